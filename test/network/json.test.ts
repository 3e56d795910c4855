/**
 * JSON with bigints (src/network/json.ts), pinned: toJson writes, byte for byte, what
 * JSON.stringify with the bigint replacer writes (stored rows must read the same, so a
 * faster toJson must not write anything differently), and fromJson reads it back exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromJson, toJson } from '../../src/network/json.ts';

/** The format: JSON.stringify with a replacer. */
function reference(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? { $big: v.toString() } : v,
  );
}

/** Any JSON-like data with bigints, undefined, -0, NaN, odd keys (__proto__, "0", "$big"). */
const data = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.bigInt(),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', '10', '$big', 'toString')),
    tie('value'),
    { maxKeys: 5 },
  ),
}));

/** The same data without what JSON cannot carry back (undefined, -0, NaN, ±Infinity). */
const exact = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.bigInt({ min: -(2n ** 128n), max: 2n ** 128n }),
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.boolean(),
    fc.constant(null),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc
    .dictionary(
      fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', 'amountMinor')),
      tie('value'),
      {
        maxKeys: 5,
        noNullPrototype: true,
      },
    )
    // { $big: "…" } alone is how a bigint is written: data shaped so is not data here.
    .filter((o) => !('$big' in o)),
}));

describe('toJson', () => {
  it('writes exactly what the replacer writes, for any data', () => {
    fc.assert(
      fc.property(data.value, (v) => {
        expect(toJson(v)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps an own __proto__ key as a key, and leaves the input untouched', () => {
    const v = JSON.parse('{"__proto__":{"a":1},"b":[1,2]}') as Record<string, unknown>;
    (v.b as unknown[]).push(3n);
    expect(toJson(v)).toBe('{"__proto__":{"a":1},"b":[1,2,{"$big":"3"}]}');
    expect(toJson(v)).toBe(reference(v));
    expect((v.b as unknown[])[2]).toBe(3n);
  });

  it('writes what toJSON gives (a Date), and the top level as JSON.stringify does', () => {
    const at = new Date(Date.UTC(2026, 10, 28));
    expect(toJson({ at, n: 1n })).toBe(reference({ at, n: 1n }));
    expect(toJson([at])).toBe('["2026-11-28T00:00:00.000Z"]');
    expect(toJson(5n)).toBe('{"$big":"5"}');
    expect(toJson('x')).toBe('"x"');
    expect(toJson(null)).toBe('null');
    expect(toJson(undefined)).toBe(reference(undefined));
  });
});

describe('fromJson', () => {
  it('reads back exactly what toJson wrote', () => {
    fc.assert(
      fc.property(exact.value, (v) => {
        expect(fromJson(toJson(v))).toStrictEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads money as bigint, never a float', () => {
    const row = fromJson<{ a: bigint; b: bigint[] }>(
      toJson({ a: 2n ** 64n + 1n, b: [-(2n ** 70n), 0n] }),
    );
    expect(row.a).toBe(18446744073709551617n);
    expect(row.b).toEqual([-(2n ** 70n), 0n]);
  });
});
