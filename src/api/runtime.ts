/**
 * Opens what a remitnet process runs on, from configuration: the ledger (group commit,
 * expiry sweeps, instrumented for metrics) and the SQL client for the domain and the API,
 * and closes them in the right order.
 *
 * On SQLite the SQL client shares the ledger store's connection: one writer, and the
 * ledger's account cache is not thrown away after every domain write (a commit on another
 * connection would change `PRAGMA data_version` and drop it).
 */
import type { Config } from '../config.ts';
import { Ledger } from '../ledger/index.ts';
import { openLedgerStore } from '../stores/open.ts';
import { PostgresClient, SqliteClient, type SqlClient } from '../stores/sql.ts';
import { SqliteStore } from '../stores/sqlite/sqlite-store.ts';
import { durableStore, WalSync } from '../stores/wal-sync.ts';
import type { LedgerStore } from '../ledger/store.ts';
import { createRemitnet, type Remitnet, type RemitnetConfig } from '../remittances/index.ts';
import { instrumentStore } from './instrument.ts';
import { recordRecoveredAnswers } from './domain.ts';
import { migrateApi } from './keys.ts';
import { installationKeys, readSecretFile, type KeySource } from './secrets.ts';
import { createApiMetrics, type ApiMetrics } from './metrics.ts';

export interface Runtime {
  readonly config: Config;
  readonly ledger: Ledger;
  readonly sql: SqlClient;
  readonly metrics: ApiMetrics;
  /** The network and remittance services. */
  readonly remitnet: Remitnet;
  /** The key for Idempotency-Key request fingerprints (give it to buildApp). */
  readonly requestHashKey: string | Buffer;
  /**
   * Where the payout-code and request-hash keys come from: the secret file, or the database
   * (no REMITNET_SECRET_FILE; the service warns, since every copy of the database then
   * carries them).
   */
  readonly keySource: KeySource;
  /** A failure only a restart clears (a failed or hung fsync of the SQLite log), if any. */
  failure(): Error | undefined;
  /** Finishes queued ledger batches, then closes the SQL client and the store. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Run the ledger's expiry sweep every this many milliseconds (0: never). */
  readonly expiryInterval_ms?: number;
  /**
   * Every this many milliseconds, re-drive interrupted steps and run the remittance sweeper
   * (deadlines: expiries, timeouts, refunds); recover every interrupted step at start
   * (0: none of it).
   */
  readonly sweepInterval_ms?: number;
  /**
   * On each tick, re-drive only steps whose intent is at least this old (default 30 s): a
   * younger one may still be in progress in this process or another, and re-driving it
   * would only race its own request (harmless, deterministic ids, but wasted).
   */
  readonly recoverMinAge_ms?: number;
  /** Domain settings (deadlines, thresholds, corridors); the payout secret is added. */
  readonly domain?: Omit<RemitnetConfig, 'payoutCodeSecret'>;
  /** Told when a background job (ledger expiry, remittance sweep) fails; it retries next tick. */
  readonly onBackgroundError?: (
    job: 'ledger_expiry' | 'remittance_recover' | 'remittance_sweep',
    error: unknown,
  ) => void;
  /**
   * Told when a store keeps working in a degraded way: on SQLite, the background
   * checkpointer failed and SQLite's own autocheckpoint took over (commits copy the WAL back
   * themselves, so they get slower, but the WAL stays bounded).
   */
  readonly onStoreDegraded?: (what: 'sqlite_checkpointer', reason: string) => void;
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  // The secret file is read before anything opens, so a missing, short or readable file
  // fails start-up at once, with its own message.
  const secretFile =
    config.secretFile === undefined
      ? undefined
      : { path: config.secretFile, keys: readSecretFile(config.secretFile) };
  const metrics = createApiMetrics();
  // FULL durability on a file is kept with the fsync off the event loop (wal-sync.ts): the
  // connection runs NORMAL and every answer waits for a WAL fdatasync that covers it.
  const offloadSync =
    config.databaseUrl === undefined &&
    config.sqliteSynchronous === 'FULL' &&
    config.sqlitePath !== ':memory:';
  const opened = await openLedgerStore(
    offloadSync ? { ...config, sqliteSynchronous: 'NORMAL' } : config,
    {
      onCheckpointerFailure: (reason) => options.onStoreDegraded?.('sqlite_checkpointer', reason),
    },
  );
  let store: LedgerStore = opened;
  let sql: SqlClient;
  let walSync: WalSync | undefined;
  if (opened instanceof SqliteStore) {
    if (offloadSync) {
      try {
        walSync = WalSync.forDatabase(opened.db.name, { deadline_ms: config.fsyncDeadline_ms });
      } catch (error) {
        await opened.close();
        throw error;
      }
      store = durableStore(opened, walSync);
      const sync = walSync;
      metrics.registry
        .gauge('remitnet_sqlite_commits', 'SQLite COMMITs since start (ledger and domain)')
        .set(() => sync.commits);
      metrics.registry
        .gauge('remitnet_sqlite_wal_syncs', 'fdatasync calls on the SQLite WAL since start')
        .set(() => sync.syncs);
    }
    if (opened.checkpointer.mode === 'background') {
      const sqlite = opened;
      metrics.registry
        .gauge(
          'remitnet_sqlite_checkpointer_background',
          '1 while a worker thread checkpoints the SQLite WAL; 0 once it failed and commits checkpoint instead',
        )
        .set(() => (sqlite.checkpointer.mode === 'background' ? 1 : 0));
    }
    // The client's commits grow the shared WAL too: they wake the checkpointer as the
    // store's own do (without them, under API load it checkpointed every ~12,000 frames
    // and the WAL file reached 350 MB).
    sql = new SqliteClient(opened.db, false, walSync, { onCommit: () => opened.noteCommitted() });
  } else {
    if (config.databaseUrl === undefined) throw new Error('invariant: a server store needs a URL');
    sql = PostgresClient.open(config.databaseUrl);
  }
  const ledger = new Ledger(instrumentStore(store, metrics));
  let remitnet: Remitnet;
  let keys: Awaited<ReturnType<typeof installationKeys>>;
  try {
    await migrateApi(sql);
    keys = await installationKeys(sql, secretFile);
    remitnet = await createRemitnet({
      ledger,
      sql,
      config: { ...(options.domain ?? {}), payoutCodeSecret: keys.keys.payoutCodeSecret },
    });
  } catch (error) {
    await sql.close();
    await store.close();
    throw error;
  }
  const interval_ms = options.expiryInterval_ms ?? 1000;
  const onBackgroundError = options.onBackgroundError ?? (() => {});
  if (interval_ms > 0) {
    ledger.startExpiry(interval_ms, (error) => onBackgroundError('ledger_expiry', error));
  }
  const sweep_ms = options.sweepInterval_ms ?? 0;
  const recoverMinAge_ms = options.recoverMinAge_ms ?? 30_000;
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  if (sweep_ms > 0) {
    recordRecoveredAnswers(remitnet);
    await remitnet.remittances.recover();
    // A step left pending by a transient failure (the ledger or database briefly away) is
    // re-driven here, not only after a restart; the sweeper skips such rows. One tick at a
    // time: a tick slower than the interval makes the next one wait, not overlap, so
    // recover and sweep never work on the same rows at once from this process.
    const tick = async () => {
      const { remittances } = remitnet;
      await remittances
        .recover({ minAge_ms: recoverMinAge_ms })
        .catch((error: unknown) => onBackgroundError('remittance_recover', error));
      await remittances
        .sweep()
        .catch((error: unknown) => onBackgroundError('remittance_sweep', error));
    };
    sweeper = setInterval(() => {
      if (sweeping !== undefined) return;
      sweeping = tick().finally(() => {
        sweeping = undefined;
      });
    }, sweep_ms);
    sweeper.unref();
  }
  let closed = false;
  return {
    config,
    ledger,
    sql,
    metrics,
    remitnet,
    requestHashKey: keys.keys.requestHashKey,
    keySource: keys.source,
    failure: () => walSync?.failure,
    async close() {
      if (closed) return;
      closed = true;
      if (sweeper !== undefined) clearInterval(sweeper);
      await sweeping;
      try {
        await ledger.drain();
        await sql.close();
      } finally {
        // Even when the SQL client refuses to close (a failed fsync): release the store,
        // its connection and its checkpointer thread.
        await store.close();
      }
    },
  };
}
