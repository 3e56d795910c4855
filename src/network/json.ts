/**
 * JSON for rows that hold bigints: a bigint is written as {"$big":"123"} and read back as
 * 123n, so minor units survive a TEXT column on every database without a float in between.
 */

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? { $big: v.toString() } : v,
  );
}

export function fromJson<T>(text: unknown): T {
  if (typeof text !== 'string') throw new TypeError('a JSON column must be TEXT');
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$big === 'string' && Object.keys(o).length === 1) return BigInt(o.$big);
    }
    return v;
  }) as T;
}

/** An integer column as a JS number (counts, versions, times in ms: all well below 2^53). */
export function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  throw new TypeError(`expected an integer column, got ${typeof v}`);
}

export function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  throw new TypeError(`expected an integer column, got ${typeof v}`);
}
