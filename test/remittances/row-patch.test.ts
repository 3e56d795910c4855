/**
 * Row patches (src/remittances/row.ts): what a step's intent stores (diff) and how its
 * outcome is applied (patched). patched must give exactly what `{ ...row, ...set }` less
 * the unset keys, the intent and the step gave before: same keys, same order (the stored
 * body's text), same values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diff, patched, type RemittanceRow, type RowPatch } from '../../src/remittances/row.ts';

/** patched as it was first written: spread, then delete. */
function reference(row: RemittanceRow, p: RowPatch): RemittanceRow {
  const out = { ...(row as unknown as Record<string, unknown>), ...p.set };
  for (const k of p.unset) delete out[k];
  delete out.intent;
  delete out.pendingStep;
  return out as unknown as RemittanceRow;
}

const key = fc.oneof(
  fc.constantFrom('state', 'intent', 'pendingStep', 'version', 'reserved', 'awaitingHop'),
  fc.constantFrom('__proto__', 'toString', 'constructor', '0', '7'),
  fc.string({ maxLength: 6 }),
);
const value = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.bigInt(),
  fc.constant(undefined),
  fc.array(fc.integer()),
);
const record = fc.dictionary(key, value, { maxKeys: 12 });

describe('patched', () => {
  it('is { ...row, ...set } less the unset keys, the intent and the step, keys in order', () => {
    fc.assert(
      fc.property(record, record, fc.array(key, { maxLength: 4 }), (row, set, unset) => {
        const p: RowPatch = { set, unset };
        const r = row as unknown as RemittanceRow;
        const got = patched(r, p) as unknown as Record<string, unknown>;
        const want = reference(r, p) as unknown as Record<string, unknown>;
        expect(Object.keys(got)).toEqual(Object.keys(want));
        for (const k of Object.keys(want)) expect(got[k]).toBe(want[k]);
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      }),
      { numRuns: 3000 },
    );
  });

  it('undoes diff: the row after a step is the row the plan said, less the step', () => {
    // Row-like data: field names, defined values (diff compares by identity and `in`).
    const field = fc.constantFrom(
      'state',
      'intent',
      'pendingStep',
      'version',
      'reserved',
      'x',
      'y',
    );
    const rowLike = fc.dictionary(field, fc.oneof(fc.string(), fc.integer(), fc.bigInt()), {
      maxKeys: 7,
    });
    fc.assert(
      fc.property(rowLike, rowLike, (a, b) => {
        const from = a as unknown as RemittanceRow;
        const to = b as unknown as RemittanceRow;
        const got = patched(from, diff(from, to, [])) as unknown as Record<string, unknown>;
        const want = { ...b } as Record<string, unknown>;
        delete want.intent;
        delete want.pendingStep;
        expect(new Set(Object.keys(got))).toEqual(new Set(Object.keys(want)));
        for (const k of Object.keys(want)) expect(got[k]).toBe(want[k]);
      }),
      { numRuns: 2000 },
    );
  });
});
