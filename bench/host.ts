/**
 * What the host took from this machine while a benchmark ran: on a virtual machine the
 * hypervisor can run other guests on our cores ("steal"), and a phase measured then is
 * slower through no fault of the code. The benchmarks print the share of CPU time stolen
 * during each phase, so a reader can tell a slow run from a slow build. Linux only
 * (/proc/stat); elsewhere the reading is null.
 */
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

/** The machine's CPU time so far, in clock ticks, or null when it cannot be read. */
export function cpuTimes(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((n) => !Number.isFinite(n))) return null;
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7]! };
  } catch {
    return null;
  }
}

/** Percent of the CPU time between two readings that the host stole (one decimal). */
export function stealPercent(from: CpuTimes | null, to: CpuTimes | null): number | null {
  if (from === null || to === null || to.total <= from.total) return null;
  return Math.round((1000 * (to.steal - from.steal)) / (to.total - from.total)) / 10;
}

export interface ProcessTicks {
  /** All of this process's threads. */
  readonly all: number;
  /** Its main thread alone (the event loop: HTTP, the domain, every SQLite statement). */
  readonly main: number;
}

/**
 * This process's CPU time so far, in clock ticks (user + system), or null when it cannot
 * be read (Linux: /proc/self/stat and /proc/self/task/<pid>/stat).
 */
export function processTicks(): ProcessTicks | null {
  const ticks = (path: string) => {
    const text = readFileSync(path, 'latin1');
    // pid (comm) state ppid … utime stime: fields 14 and 15, 12 and 13 after the comm.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = Number(f[11]) + Number(f[12]);
    if (!Number.isFinite(n)) throw new Error(`unreadable ${path}`);
    return n;
  };
  try {
    return { all: ticks('/proc/self/stat'), main: ticks(`/proc/self/task/${process.pid}/stat`) };
  } catch {
    return null;
  }
}

/**
 * Of `cpu` (this process's CPU, in any unit, between two readings of processTicks), the
 * main thread's share, in the same unit; null when /proc could not tell.
 */
export function mainThreadShare(
  cpu: number,
  from: ProcessTicks | null,
  to: ProcessTicks | null,
): number | null {
  if (from === null || to === null || to.all <= from.all) return null;
  return (cpu * (to.main - from.main)) / (to.all - from.all);
}
