// Loads flows/*.yaml once at start-up. An invalid file fails with the file, the
// path inside it and the reason.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { compileFlow, type Flow, flowSchema } from './flow.js';

export class FlowFileError extends Error {
  override name = 'FlowFileError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadedFlow extends Flow {
  file: string;
  /** sha256 of the validated content, to detect an edited version. */
  hash: string;
}

export function parseFlow(file: string, source: string): LoadedFlow {
  let raw: unknown;
  try {
    raw = parse(source, { prettyErrors: true });
  } catch (err) {
    throw new FlowFileError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  const parsed = flowSchema.safeParse(raw);
  if (!parsed.success) {
    throw new FlowFileError(
      file,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`),
    );
  }
  const expected = `${parsed.data.id}.v${parsed.data.version}.yaml`;
  if (basename(file) !== expected) throw new FlowFileError(file, [`file name must be ${expected} (id and version)`]);
  const hash = createHash('sha256').update(JSON.stringify(parsed.data)).digest('hex');
  return { ...compileFlow(parsed.data), file, hash };
}

export class FlowRegistry {
  private readonly byKey = new Map<string, LoadedFlow>();
  private readonly latest = new Map<string, LoadedFlow>();

  constructor(flows: LoadedFlow[]) {
    for (const f of flows) {
      this.byKey.set(f.key, f);
      const cur = this.latest.get(f.id);
      if (!cur || cur.version < f.version) this.latest.set(f.id, f);
    }
  }

  /** Throws for an unknown key: a session that names a flow we no longer ship is a deployment error. */
  get(key: string): LoadedFlow {
    const f = this.byKey.get(key);
    if (!f) throw new Error(`unknown flow ${key}`);
    return f;
  }

  latestOf(id: string): LoadedFlow {
    const f = this.latest.get(id);
    if (!f) throw new Error(`unknown flow id ${id}`);
    return f;
  }

  all(): LoadedFlow[] {
    return [...this.byKey.values()];
  }
}

/** Every *.yaml in the folder; all files are checked and all errors reported together. */
export function loadFlows(dir: string): FlowRegistry {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const errors: FlowFileError[] = [];
  const flows: LoadedFlow[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      flows.push(parseFlow(path, readFileSync(path, 'utf8')));
    } catch (err) {
      if (err instanceof FlowFileError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length)
    throw new FlowFileError(
      dir,
      errors.map((e) => e.message),
    );
  return new FlowRegistry(flows);
}
