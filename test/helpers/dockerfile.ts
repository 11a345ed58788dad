// The Dockerfile run without Docker (no engine here): each stage in a folder of
// its own standing for its WORKDIR, COPY and RUN done as Docker does them. Only
// the instructions our Dockerfile uses are known; any other is refused, so that
// this follows the file rather than a copy of it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

export interface Stage {
  name: string;
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
      const [, name] = /^\S+(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stage = { name: name ?? String(stages.length), dir: join(o.root, name ?? `stage${stages.length}`), env: {} };
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
          execFileSync('sh', ['-c', args], { cwd: s.dir, env: { ...process.env, ...s.env }, stdio: 'pipe' });
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
