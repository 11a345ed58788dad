// What a benchmark prints is also kept: a line about the machine, then its
// lines, written to bench/results/<name>-<time>.txt.
import { mkdirSync, writeFileSync } from 'node:fs';
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
