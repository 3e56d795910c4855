/**
 * Where the WAL's frames come from, by B-tree, under load: a diagnostic to preload into a
 * benchmark, e.g.
 *
 *   node --import tsx --import ./bench/wal-frames.ts bench/api.ts
 *
 * It wraps better-sqlite3's `exec`: at every BEGIN it reads the WAL's frame count
 * (`PRAGMA wal_checkpoint(NOOP)`, which copies nothing), and after one COMMIT in
 * `WAL_FRAMES_SAMPLE` (default 5) it reads the page number of each frame that COMMIT
 * appended from the WAL file. At the end (bench/api.ts calls `globalThis.walFramesReport`
 * before it deletes the database) it maps pages to tables and indexes with `dbstat` and
 * prints frames per remittance for each (remittances counted by their INSERT).
 *
 * Measuring one remittance at a time says little: a lone commit rewrites each page it
 * touches once whatever its keys. Under load, random keys put each row of a commit on its
 * own page, and that is what this shows (it found the random transfer ids of remittances:
 * 11.1 of 51.6 frames per remittance). Its own reads slow the run; do not time with it.
 */
import Database from 'better-sqlite3';
import { openSync, readSync } from 'node:fs';

const SAMPLE = Number(process.env.WAL_FRAMES_SAMPLE ?? 5);
const FRAME_HEADER = 24;
const WAL_HEADER = 32;

const frames = new Map<number, number>(); // page number -> frames seen
const state = new WeakMap<Database.Database, { noop: Database.Statement; before: number }>();
let commits = 0;
let sampled = 0;
let remittances = 0;
let dbPath: string | undefined;
let pageSize = 4096;
let walFd: number | undefined;

function walFrames(db: Database.Database): { noop: Database.Statement; before: number } {
  let s = state.get(db);
  if (s === undefined) {
    s = { noop: db.prepare('PRAGMA wal_checkpoint(NOOP)').raw(true), before: 0 };
    state.set(db, s);
  }
  return s;
}

const exec = Database.prototype.exec;
Database.prototype.exec = function (this: Database.Database, sql: string) {
  if (this.memory || !(sql === 'COMMIT' || sql.startsWith('BEGIN'))) return exec.call(this, sql);
  const s = walFrames(this);
  const count = () => Number((s.noop.get() as unknown[])[1]);
  if (sql !== 'COMMIT') {
    s.before = count(); // outside any transaction: the pragma cannot run inside one
    return exec.call(this, sql);
  }
  const result = exec.call(this, sql);
  if (++commits % SAMPLE !== 0) return result;
  const after = count();
  const from = after < s.before ? 0 : s.before; // the WAL restarted in between
  if (dbPath === undefined) {
    dbPath = this.name;
    pageSize = Number(this.pragma('page_size', { simple: true }));
    walFd = openSync(`${dbPath}-wal`, 'r');
  }
  if (this.name !== dbPath || walFd === undefined) return result;
  const page = Buffer.alloc(4);
  for (let i = from; i < after; i++) {
    readSync(walFd, page, 0, 4, WAL_HEADER + i * (FRAME_HEADER + pageSize));
    const n = page.readUInt32BE(0);
    frames.set(n, (frames.get(n) ?? 0) + 1);
  }
  sampled++;
  return result;
} as typeof Database.prototype.exec;

// Count remittances by their INSERT (a statement's run, on any connection).
const probe = new Database(':memory:');
const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as {
  run: (...args: unknown[]) => Database.RunResult;
  source: string;
};
probe.close();
const run = statementProto.run;
statementProto.run = function (this: { source: string }, ...args: unknown[]) {
  if (this.source.startsWith('INSERT INTO remittances ')) remittances++;
  return run.apply(this, args);
};

(globalThis as { walFramesReport?: () => void }).walFramesReport = () => {
  if (dbPath === undefined || remittances === 0) {
    console.log('wal-frames: nothing sampled');
    return;
  }
  const db = new Database(dbPath, { readonly: true });
  const names = new Map<number, string>();
  for (const r of db.prepare('SELECT name, pageno FROM dbstat').all() as {
    name: string;
    pageno: number;
  }[]) {
    names.set(r.pageno, r.name);
  }
  db.close();
  const byName = new Map<string, number>();
  let total = 0;
  for (const [n, c] of frames) {
    const name = n === 1 ? '(page 1, the header)' : (names.get(n) ?? '(freed or new)');
    byName.set(name, (byName.get(name) ?? 0) + c);
    total += c;
  }
  const per = (c: number) => ((c * SAMPLE) / remittances).toFixed(2);
  console.log(
    `wal-frames: ${sampled} of ${commits} commits sampled; about ${per(total)} WAL frames per remittance, by B-tree:`,
  );
  for (const [name, c] of [...byName].sort((a, b) => b[1] - a[1])) {
    if (per(c) !== '0.00') console.log(`  ${per(c).padStart(7)}  ${name}`);
  }
};
