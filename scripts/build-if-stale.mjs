// Builds the TypeScript only when a source is newer than the last build, so
// `npm run admin -- keys:create` takes a second, not a full compile.
// Plain JS: it runs before anything is built.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const stamp = 'dist/.build-stamp';
const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
};
const sources = Math.max(...['src', 'webhooks', 'scripts'].map(newest), statSync('tsconfig.json').mtimeMs, statSync('package-lock.json').mtimeMs);
if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  writeFileSync(stamp, new Date().toISOString());
}
