// What a benchmark prints is also kept: a line about the machine, then its
// lines, written to bench/results/<name>-<time>.txt.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/local/paths.js';

export const machine = () =>
  `${new Date().toISOString().slice(0, 10)}  ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;

/** Writes the lines to bench/results/ and returns the file's path. */
export function saveResults(name: string, lines: string[]): string {
  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.txt`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Prints a line and keeps it for saveResults. */
export function recorder() {
  const lines: string[] = [];
  const say = (l = '') => {
    console.log(l);
    lines.push(l);
  };
  return { lines, say };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU time (ms) used so far by the processes whose command name starts with one
 * of `names` (for example the local Redis, FerretDB and PostgreSQL), read from
 * /proc; 0 where /proc is not there. Processes that exit in between are missed.
 */
export function processCpuMs(names: string[]): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.some((n) => comm.startsWith(n))) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return (ticks / TICKS_PER_SECOND) * 1000;
}
