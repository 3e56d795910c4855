/**
 * How commands talk to people and to scripts: `--json` prints one JSON document on stdout
 * (nothing else goes there); otherwise short human lines. Progress bars go to stderr, only
 * on a terminal, so pipes and `--json` stay clean.
 */
import type { Command } from 'commander';

export interface Output {
  readonly json: boolean;
  /** Prints the result: `value` as JSON with --json, else the human lines. */
  result(value: unknown, human: () => string | string[]): void;
  /** A note for people (stderr), suppressed under --json. */
  note(text: string): void;
  progress(label: string, total: number): Progress;
}

export interface Progress {
  tick(by?: number): void;
  done(): void;
}

export function outputFor(command: Command): Output {
  const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
  return {
    json,
    result(value, human) {
      if (json) {
        process.stdout.write(JSON.stringify(value, bigintReplacer, 2) + '\n');
        return;
      }
      const lines = human();
      process.stdout.write((Array.isArray(lines) ? lines.join('\n') : lines) + '\n');
    },
    note(text) {
      if (!json) process.stderr.write(text + '\n');
    },
    progress(label, total) {
      return progressBar(label, total, !json && process.stderr.isTTY === true);
    },
  };
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A one-line progress bar redrawn at most 10 times a second. Silent when not a terminal. */
export function progressBar(label: string, total: number, enabled: boolean): Progress {
  let count = 0;
  let last_ms = 0;
  const started_ms = Date.now();
  const draw = (final: boolean) => {
    if (!enabled) return;
    const now_ms = Date.now();
    if (!final && now_ms - last_ms < 100) return;
    last_ms = now_ms;
    const width = 30;
    const fraction = total > 0 ? Math.min(1, count / total) : 1;
    const filled = Math.round(fraction * width);
    const rate = count / Math.max(0.001, (now_ms - started_ms) / 1000);
    process.stderr.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count}/${total} ${rate.toFixed(0)}/s` +
        (final ? '\n' : ''),
    );
  };
  return {
    tick(by = 1) {
      count += by;
      draw(false);
    },
    done() {
      draw(true);
    },
  };
}

/** Left-aligned columns for tables people read. */
export function table(rows: ReadonlyArray<readonly string[]>): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
