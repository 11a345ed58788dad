// Runs before `npm start` / `npm test`: installs the locked dependencies when
// node_modules is missing or older than package-lock.json, so a fresh clone
// needs no separate install step. Plain JS: it runs before anything is built.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  console.error('installing dependencies (npm ci)...');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
}
