/**
 * Payout codes: one-time, short, and easy to read aloud over a bad phone line.
 *
 * Owns: making a code (10 random Crockford base32 characters, 50 bits, plus one check
 * character), normalising what a person typed or heard, and hashing it for storage.
 * Never: storing or logging a plain code; only an HMAC-SHA256 under the installation's
 * secret is kept, and compared in constant time.
 *
 * The check character is Luhn mod 32 over the same alphabet (not Crockford's mod-37
 * symbols *~$=U, which are hard to say aloud): it catches every single wrong character and
 * most swaps of neighbours, so a mis-heard code is refused as malformed before it can cost
 * the recipient one of their limited attempts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DATA_CHARS = 10;
const N = 32;

function checkChar(data: readonly number[]): number {
  // Luhn mod N, from the rightmost character, doubling every other one starting there.
  let factor = 2;
  let sum = 0;
  for (let i = data.length - 1; i >= 0; i--) {
    let addend = factor * data[i]!;
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / N) + (addend % N);
    sum += addend;
  }
  return (N - (sum % N)) % N;
}

/** A new code, grouped 4-4-3 for reading aloud, e.g. "K7QM-3XWP-9DA". */
export function newPayoutCode(): string {
  const bytes = randomBytes(DATA_CHARS);
  const data = [...bytes].map((b) => b & 31); // 256 is a multiple of 32: uniform
  const all = [...data, checkChar(data)].map((v) => ALPHABET[v]).join('');
  return `${all.slice(0, 4)}-${all.slice(4, 8)}-${all.slice(8)}`;
}

/**
 * The canonical form of a typed or heard code (upper case, no separators, O read as 0,
 * I and L as 1), or undefined when it is not 11 characters with a valid check character.
 */
export function normalizePayoutCode(text: string): string | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const s = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== DATA_CHARS + 1) return undefined;
  const values: number[] = [];
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    values.push(v);
  }
  const data = values.slice(0, DATA_CHARS);
  return checkChar(data) === values[DATA_CHARS] ? s : undefined;
}

/** HMAC-SHA256 of a secret value bound to one remittance (hex). */
export function hashSecret(
  key: Buffer,
  remittanceId: string,
  purpose: string,
  value: string,
): string {
  return createHmac('sha256', key)
    .update(`${purpose}\u0000${remittanceId}\u0000${value}`)
    .digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Codewords and document references compare loosely: case and spacing do not matter. */
export function normalizeProof(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ');
}
