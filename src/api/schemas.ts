/**
 * Shared TypeBox schemas: one source for validation, serialization and the OpenAPI
 * document. Amounts are decimal strings with their currency; ids are 32 hex digits;
 * times are ISO 8601 strings. Request bodies refuse unknown fields.
 */
import { Type, type Static, type TSchema, type TObject, type TProperties } from '@sinclair/typebox';
import { allCurrencies } from '../money/index.ts';
import { ApiError } from './problem.ts';
import { ID_PATTERN } from './wire.ts';

/** Longest decimal string accepted: 19 digits of a signed 64-bit integer plus "." and sign. */
export const AMOUNT_MAX_LENGTH = 24;

export const CurrencyCode = Type.Union(
  allCurrencies().map((c) => Type.Literal(c.code)),
  { description: 'ISO 4217 alphabetic code' },
);

/** The Money schema, registered once with the app; routes use the `Money` reference. */
export const MoneySchema = Type.Object(
  {
    amount: Type.String({
      pattern: '^-?[0-9]+(\\.[0-9]+)?$',
      maxLength: AMOUNT_MAX_LENGTH,
      description:
        'Decimal string in major units, never a JSON number; at most as many decimals as the currency has',
      examples: ['1250.50'],
    }),
    currency: Type.String({
      pattern: '^[A-Z]{3}$',
      description: 'ISO 4217 alphabetic code',
      examples: ['CNY'],
    }),
  },
  { additionalProperties: false, $id: 'Money', description: 'An amount with its currency' },
);
export type Money = Static<typeof MoneySchema>;
/** A reference to the registered Money schema (an inline copy would repeat its $id). */
export const Money = Type.Unsafe<Money>({ $ref: 'Money#' });

export const Id = Type.String({
  pattern: ID_PATTERN,
  minLength: 32,
  maxLength: 32,
  description: '128-bit id as 32 hexadecimal digits',
  examples: ['0192f5a1c3d40000a1b2c3d4e5f60718'],
});

export const Timestamp = Type.String({
  format: 'date-time',
  description: 'ISO 8601 time in UTC',
  examples: ['2026-11-28T05:40:06.123456789Z'],
});

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type: urn:remitnet:problem:<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'A sentence for people that says what to change' }),
    code: Type.String({ description: 'Stable machine code; switch on this' }),
    instance: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' },
);

/** Page size and cursor, as query parameters (strings: the query is never type-coerced). */
export const PageQuery = {
  limit: Type.Optional(
    Type.String({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1 to 1000 (default 50)' }),
  ),
  cursor: Type.Optional(
    Type.String({
      maxLength: 200,
      pattern: '^[A-Za-z0-9_-]*$',
      description: 'Opaque cursor from next_cursor of the previous page',
    }),
  ),
};

export function parseLimit(text: string | undefined, fallback = 50, max = 1000): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ApiError('invalid_request', `limit must be a whole number from 1 to ${max}`);
  }
  return n;
}

export function Page<T extends TSchema>(item: T, name: string) {
  return Type.Object(
    {
      items: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Pass as cursor to read the next page; null on the last page',
      }),
    },
    { description: `A page of ${name}` },
  );
}

/** A request body object that refuses unknown fields. */
export function Body<P extends TProperties>(properties: P, description?: string): TObject<P> {
  return Type.Object(properties, {
    additionalProperties: false,
    ...(description === undefined ? {} : { description }),
  });
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
});

/** Every route's error answers, documented as application/problem+json. */
export const ProblemResponses = {
  '4xx': problemResponse('Refused: RFC 9457 problem details with a stable code'),
  '5xx': problemResponse('Failed on our side: a generic problem with the request id'),
} as const;
