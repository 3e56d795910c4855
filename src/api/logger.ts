/**
 * The server's logger: pino, one JSON object per line, with request ids.
 *
 * Owns: which fields are never written. API keys (the Authorization header), payout codes,
 * and any field named code, secret or key are replaced by "[redacted]" wherever they occur
 * at the first two levels of a log object. Request and response bodies are never logged.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'key',
  'secret',
  'code',
  'payout_code',
  'payoutCode',
  'body',
  '*.authorization',
  '*.key',
  '*.secret',
  '*.code',
  '*.payout_code',
  '*.payoutCode',
  '*.body',
];

export function createLogger(
  options: { level?: string; destination?: DestinationStream } = {},
): Logger {
  const config = {
    level: options.level ?? 'info',
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'remitnet' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
