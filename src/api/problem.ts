/**
 * Errors as RFC 9457 problem details (application/problem+json).
 *
 * Owns: the API's own error catalogue, and the one mapping from every error remitnet can
 * throw (ApiError, LedgerError, MoneyError, the domain's errors by `kind`, Fastify's
 * validation and parsing errors) to a status, a stable machine `code` and a sentence for
 * people. Never: a stack trace, an internal message of an unknown error, or a secret in a
 * response. Unknown errors become 500 `internal_error` with the request id to quote.
 */
import { LEDGER_ERRORS, LedgerError, type LedgerErrorCode } from '../ledger/results.ts';
import { MoneyError } from '../money/index.ts';

/** The API's own codes: status and a default sentence. Clients switch on the code. */
export const API_ERRORS = {
  invalid_request: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  body_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  unauthenticated: { status: 401, title: 'An API key is required' },
  forbidden: { status: 403, title: 'This API key may not do this' },
  not_found: { status: 404, title: 'Not found' },
  route_not_found: { status: 404, title: 'No such route' },
  idempotency_key_required: { status: 400, title: 'An Idempotency-Key header is required' },
  idempotency_key_invalid: { status: 400, title: 'The Idempotency-Key header is not valid' },
  idempotency_key_reused: {
    status: 409,
    title: 'This Idempotency-Key was used with a different request',
  },
  idempotency_answer_unavailable: {
    status: 409,
    title: 'This Idempotency-Key was used before, and its answer was not kept',
  },
  idempotency_key_in_flight: {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
  },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  unprocessable: { status: 422, title: 'The request cannot be carried out' },
  expired: { status: 410, title: 'The resource has expired' },
  not_ready: { status: 503, title: 'The service is not ready' },
  restart_required: { status: 503, title: 'The process must be restarted' },
  internal_error: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    detail?: string,
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(detail ?? API_ERRORS[code].title);
    this.status = API_ERRORS[code].status;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  request_id?: string;
  errors?: Array<{ field: string; message: string }>;
}

export const PROBLEM_TYPE_BASE = 'urn:remitnet:problem:';

const LEDGER_STATUS: Record<LedgerErrorCode, number> = {
  batch_too_large: 400,
  event_malformed: 400,
  store_unavailable: 503,
  commit_unconfirmed: 503,
  store_schema_newer: 503,
  cursor_invalid: 400,
  limit_invalid: 400,
  account_not_found: 404,
};

/**
 * The statuses of the domain's error kinds. The domain (src/network, src/remittances) throws
 * errors carrying a stable `code` and a `kind`; the API maps the kind, never the code, so a
 * new domain code needs no change here.
 */
export const DOMAIN_KIND_STATUS: Readonly<Record<string, number>> = {
  invalid: 422,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  expired: 410,
  unauthenticated: 401,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: Array<{
    instancePath?: string;
    keyword?: string;
    message?: string;
    params?: Record<string, unknown>;
  }>;
  validationContext?: string;
}

/** What kind of error this is, as far as the caller should know. */
export function toProblem(error: unknown, requestId: string, instance?: string): Problem {
  const base = (status: number, code: string, detail: string, title?: string): Problem => ({
    type: PROBLEM_TYPE_BASE + code,
    title: title ?? TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(instance === undefined ? {} : { instance }),
    request_id: requestId,
  });

  if (error instanceof ApiError) {
    const p = base(error.status, error.code, error.message, API_ERRORS[error.code].title);
    if (error.extra !== undefined) Object.assign(p, error.extra);
    return p;
  }
  if (error instanceof MoneyError) return base(400, error.code, error.message);
  if (error instanceof LedgerError) {
    const status = LEDGER_STATUS[error.code] ?? 400;
    // store errors may carry internal detail (paths, driver messages): say only the sentence.
    const detail =
      error.code === 'commit_unconfirmed'
        ? LEDGER_ERRORS.commit_unconfirmed
        : status >= 500
          ? 'the ledger store cannot be used right now'
          : error.message;
    return base(status, error.code, detail);
  }
  const domain = domainError(error);
  if (domain !== undefined) {
    const status = DOMAIN_KIND_STATUS[domain.kind] ?? 422;
    return base(status, domain.code, status >= 500 ? 'the service is unavailable' : domain.message);
  }
  const f = (typeof error === 'object' && error !== null ? error : {}) as FastifyLikeError;
  if (Array.isArray(f.validation)) {
    const where = f.validationContext ?? 'request';
    const errors = f.validation.slice(0, 10).map((v) => validationMessage(where, v));
    const p = base(
      400,
      'invalid_request',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      API_ERRORS.invalid_request.title,
    );
    p.errors = errors;
    return p;
  }
  switch (f.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return base(413, 'body_too_large', 'the body is larger than this server accepts; send less');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return base(
        415,
        'unsupported_media_type',
        'send the body as application/json with a correct Content-Length',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return base(400, 'malformed_json', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return base(400, 'malformed_json', 'the body is not valid JSON');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return base(400, 'invalid_request', 'the URL is not valid (check its percent-encoding)');
  }
  if (
    error instanceof SyntaxError ||
    (typeof f.statusCode === 'number' && f.statusCode === 400 && typeof f.code === 'string')
  ) {
    return base(400, 'malformed_json', 'the request could not be parsed');
  }
  if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) {
    // Another Fastify client error (e.g. a bad header); say only what its status means.
    return base(
      f.statusCode,
      'invalid_request',
      TITLES[f.statusCode] ?? 'the request is not valid',
    );
  }
  return base(
    500,
    'internal_error',
    `something went wrong on our side; nothing more is shown here. Quote request id ${requestId} when reporting it`,
  );
}

/** True for errors whose detail is safe to show (everything but unknown/5xx). */
export function isClientError(problem: Problem): boolean {
  return problem.status < 500;
}

interface DomainLike {
  readonly kind: string;
  readonly code: string;
  readonly message: string;
}

function domainError(error: unknown): DomainLike | undefined {
  if (!(error instanceof Error)) return undefined;
  const e = error as Error & { kind?: unknown; code?: unknown };
  if (typeof e.kind !== 'string' || typeof e.code !== 'string') return undefined;
  if (!(e.kind in DOMAIN_KIND_STATUS)) return undefined;
  return { kind: e.kind, code: e.code, message: e.message };
}

function validationMessage(
  where: string,
  v: NonNullable<FastifyLikeError['validation']>[number],
): { field: string; message: string } {
  const path = (v.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const field = path === '' ? where : `${where}.${path}`;
  const p = v.params ?? {};
  switch (v.keyword) {
    case 'additionalProperties':
      return {
        field,
        message: `unknown field ${JSON.stringify(p.additionalProperty)}; remove it`,
      };
    case 'required':
      return { field, message: `the field ${JSON.stringify(p.missingProperty)} is required` };
    case 'type':
      return { field, message: `must be of type ${String(p.type)}` };
    case 'pattern':
      return { field, message: `has the wrong form (expected pattern ${String(p.pattern)})` };
    case 'enum':
      return {
        field,
        message: `must be one of ${((p.allowedValues as unknown[]) ?? []).map((x) => JSON.stringify(x)).join(', ')}`,
      };
    default:
      return { field, message: v.message ?? 'is not valid' };
  }
}
