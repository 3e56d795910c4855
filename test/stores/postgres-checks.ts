/**
 * Invariant checks run in SQL against a PostgreSQL ledger (for the multi-process,
 * crash and failover tests): each query returns the rows that break a rule, so an empty
 * answer everywhere means the ledger is whole.
 *
 * Balances are read from `current_accounts` (schema.ts): the accounts table with the
 * balance journal applied, i.e. the balances every reader sees. The journal itself is
 * checked too (entries only for accounts that exist, at most one per account a row,
 * never a row older than the last fold), and so are the posting lists (each stretch holds
 * exactly its account's transfers, on the right side).
 */
import type pg from 'pg';

const CHECKS: Record<string, string> = {
  'account balances equal the sums of their transfers': `
    WITH posted AS (
      SELECT id, sum(dr) AS dr, sum(cr) AS cr FROM (
        SELECT debit_account_id AS id, amount AS dr, 0 AS cr FROM transfers WHERE (flags & 10) = 0
        UNION ALL
        SELECT credit_account_id, 0, amount FROM transfers WHERE (flags & 10) = 0) x GROUP BY id),
    pend AS (
      SELECT id, sum(dr) AS dr, sum(cr) AS cr FROM (
        SELECT t.debit_account_id AS id, t.amount AS dr, 0 AS cr
          FROM transfers t JOIN pending_transfers p ON p.ts = t.ts WHERE p.status = 0
        UNION ALL
        SELECT t.credit_account_id, 0, t.amount
          FROM transfers t JOIN pending_transfers p ON p.ts = t.ts WHERE p.status = 0) x GROUP BY id)
    SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
      coalesce(po.dr, 0) AS want_dp, coalesce(po.cr, 0) AS want_cp,
      coalesce(pe.dr, 0) AS want_dpe, coalesce(pe.cr, 0) AS want_cpe
    FROM current_accounts a LEFT JOIN posted po ON po.id = a.id LEFT JOIN pend pe ON pe.id = a.id
    WHERE a.debits_posted <> coalesce(po.dr, 0) OR a.credits_posted <> coalesce(po.cr, 0)
      OR a.debits_pending <> coalesce(pe.dr, 0) OR a.credits_pending <> coalesce(pe.cr, 0)`,
  'debits equal credits, per ledger': `
    SELECT ledger FROM current_accounts GROUP BY ledger
    HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)`,
  'account flags hold': `
    SELECT id FROM current_accounts
    WHERE ((flags & 2) <> 0 AND debits_pending + debits_posted > credits_posted)
       OR ((flags & 4) <> 0 AND credits_pending + credits_posted > debits_posted)`,
  'every transfer refers to accounts that exist': `
    SELECT t.id FROM transfers t
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account_id)
       OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account_id)`,
  'every pending transfer has exactly one state row, and only pending ones do': `
    SELECT t.id FROM transfers t LEFT JOIN pending_transfers p ON p.ts = t.ts
    WHERE ((t.flags & 2) <> 0) <> (p.ts IS NOT NULL)
    UNION ALL
    SELECT NULL FROM pending_transfers p WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.ts = p.ts)`,
  'a pending transfer is resolved at most once, and as its resolving transfer says': `
    SELECT t.id, p.status, count(r.id) AS resolutions,
      bool_and((r.flags & 4 <> 0 AND p.status = 1) OR (r.flags & 8 <> 0 AND p.status = 2)) AS agree
    FROM transfers t JOIN pending_transfers p ON p.ts = t.ts
      LEFT JOIN transfers r ON r.pending_id = t.id
    GROUP BY t.id, p.status
    HAVING count(r.id) > 1 OR (count(r.id) = 1 AND NOT bool_and(
        (r.flags & 4 <> 0 AND p.status = 1) OR (r.flags & 8 <> 0 AND p.status = 2)))
      OR (count(r.id) = 0 AND p.status IN (1, 2))`,
  'timestamps are unique across accounts and transfers, and ids unique': `
    SELECT ts FROM (SELECT ts FROM accounts UNION ALL SELECT ts FROM transfers) x
    GROUP BY ts HAVING count(*) > 1
    UNION ALL
    SELECT NULL FROM transfers GROUP BY id HAVING count(*) > 1`,
  'journal entries are whole, for accounts that exist, once per row, newer than the last fold': `
    WITH e AS (
      SELECT j.version, length(j.balances) % 41 AS rest,
        ('x' || encode(substr(j.balances, i * 41 + 1, 8), 'hex'))::bit(64)::bigint AS account_ts
      FROM balance_journal j, generate_series(0, length(j.balances) / 41 - 1) AS i)
    SELECT version, account_ts FROM e WHERE rest <> 0
      OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.ts = e.account_ts)
      OR version <= (SELECT folded_version FROM ledger_clock)
      OR version > (SELECT version FROM ledger_clock)
    UNION ALL
    SELECT version, account_ts FROM e GROUP BY version, account_ts HAVING count(*) > 1`,
  'the posting lists hold exactly the indexed transfers, by account and side': `
    WITH listed AS (
      SELECT p.account_id, ('x' || encode(substr(l.list, i * 8 + 1, 8), 'hex'))::bit(64)::bigint AS ts,
        l.debit, p.after, p.upto
      FROM account_postings p
        CROSS JOIN LATERAL (SELECT p.debits AS list, true AS debit UNION ALL SELECT p.credits, false) l,
        generate_series(0, length(l.list) / 8 - 1) AS i),
    wanted AS (
      SELECT debit_account_id AS account_id, ts, true AS debit FROM transfers
        WHERE ts <= (SELECT indexed_upto FROM ledger_clock)
      UNION ALL
      SELECT credit_account_id, ts, false FROM transfers
        WHERE ts <= (SELECT indexed_upto FROM ledger_clock))
    SELECT coalesce(l.account_id, w.account_id) AS account_id, coalesce(l.ts, w.ts) AS ts
    FROM listed l FULL JOIN wanted w
      ON w.account_id = l.account_id AND w.ts = l.ts AND w.debit = l.debit
    WHERE l.ts IS NULL OR w.ts IS NULL OR l.ts <= l.after OR l.ts > l.upto
    UNION ALL
    SELECT account_id, upto FROM account_postings
    WHERE length(debits) % 8 <> 0 OR length(credits) % 8 <> 0
       OR upto > (SELECT indexed_upto FROM ledger_clock)`,
  'the clock is at or past every timestamp': `
    SELECT last_ts FROM ledger_clock
    WHERE last_ts < greatest((SELECT max(ts) FROM transfers), (SELECT max(ts) FROM accounts))`,
};

/** Every broken rule, with a sample of the rows that break it (empty: all hold). */
export async function ledgerViolations(db: pg.Pool | pg.Client): Promise<string[]> {
  const out: string[] = [];
  for (const [rule, sql] of Object.entries(CHECKS)) {
    const r = await db.query(`SELECT * FROM (${sql}) v LIMIT 5`);
    if (r.rows.length > 0) {
      out.push(
        `${rule}: ${JSON.stringify(r.rows, (_k, v: unknown) =>
          typeof v === 'bigint' ? v.toString() : v,
        )}`,
      );
    }
  }
  return out;
}
