/**
 * One migration runner for every store: numbered migrations applied in order, each in
 * its own transaction, recorded in `remitnet_migrations`. A database whose highest
 * applied version is above what this build knows is refused (store_schema_newer), never
 * used: an old binary must not write into a schema it does not understand.
 */
import { LedgerError } from '../ledger/results.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQL statements, run in order inside one transaction. */
  readonly statements: readonly string[];
}

/** What a store offers the runner: all it needs is to run SQL in a transaction. */
export interface MigrationTarget {
  /** Creates the migrations table if missing and returns the versions applied. */
  appliedVersions(): Promise<number[]>;
  /** Runs the statements and records the version, atomically. */
  apply(migration: Migration): Promise<void>;
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

export async function runMigrations(
  target: MigrationTarget,
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  for (let i = 0; i < migrations.length; i++) {
    if (migrations[i]!.version !== i + 1) {
      throw new Error(`migrations must be numbered 1..n without gaps (at ${migrations[i]!.name})`);
    }
  }
  const applied = new Set(await target.appliedVersions());
  const known = migrations.length;
  const highest = Math.max(0, ...applied);
  if (highest > known) {
    throw new LedgerError(
      'store_schema_newer',
      `the database is at schema version ${highest}, this remitnet knows up to ${known}`,
    );
  }
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    await target.apply(m);
    done.push(`${m.version} ${m.name}`);
  }
  return { from: highest, to: known, applied: done };
}
