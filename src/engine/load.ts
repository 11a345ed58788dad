// Loads flows/*.yaml once at start-up. An invalid file fails with the file, the
// path inside it and the reason.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';
import { compileFlow, type Flow, type FlowData, flowKey, flowSchema } from './flow.js';
import { type Messages, VI_MESSAGES } from './messages.js';
import { flatten, flowTexts, isLanguageCode, messageTexts, translateFlow, translationProblems } from './translation.js';

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
  const hash = createHash('sha256')
    .update(JSON.stringify(hashedForm(parsed.data)))
    .digest('hex');
  return { ...compileFlow(parsed.data), file, hash };
}

/**
 * What a flow's content hash is taken over: the validated data without the
 * fields added to the schema later at their default values (an option's
 * `excluded`, a choice's `optional`), so a file that did not change keeps the
 * hash stored when responses first referenced it.
 */
function hashedForm(data: FlowData): unknown {
  // Keys are deleted, never rebuilt: the hash depends on their order.
  const option = (o: FlowData['scales'][string][number]) => {
    const copy: Partial<typeof o> = { ...o };
    if (!copy.excluded) delete copy.excluded;
    return copy;
  };
  return {
    ...data,
    scales: Object.fromEntries(Object.entries(data.scales).map(([k, v]) => [k, v.map(option)])),
    questions: data.questions.map((q) => {
      if (q.type !== 'choice') return q;
      const copy: Partial<typeof q> = { ...q };
      if (copy.options) copy.options = copy.options.map(option) as typeof q.options;
      if (!copy.optional) delete copy.optional;
      return copy;
    }),
  };
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
  errors.push(...addTranslations(join(dir, 'i18n'), flows));
  if (errors.length)
    throw new FlowFileError(
      dir,
      errors.map((e) => e.message),
    );
  return new FlowRegistry(flows);
}

function readYaml(path: string): unknown {
  try {
    return parse(readFileSync(path, 'utf8'), { prettyErrors: true }) ?? {};
  } catch (err) {
    throw new FlowFileError(path, [`not valid YAML: ${(err as Error).message}`]);
  }
}

/**
 * Reads flows/i18n: engine.<lang>.yaml, then <id>.v<version>.<lang>.yaml, and
 * adds each translated flow as a variant of its flow. Returns the problems.
 */
function addTranslations(dir: string, flows: LoadedFlow[]): FlowFileError[] {
  if (!existsSync(dir)) return [];
  const errors: FlowFileError[] = [];
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const messages = new Map<string, Messages>();
  const attempt = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof FlowFileError) errors.push(err);
      else throw err;
    }
  };
  for (const f of files.filter((f) => f.startsWith('engine.'))) {
    const path = join(dir, f);
    attempt(() => {
      const lang = /^engine\.([a-z]{2,3})\.ya?ml$/.exec(f)?.[1];
      if (!lang) throw new FlowFileError(path, ['name engine translations engine.<language code>.yaml (e.g. engine.en.yaml)']);
      const texts = flatten(readYaml(path));
      const problems = translationProblems(messageTexts(VI_MESSAGES), texts);
      if (problems.length) throw new FlowFileError(path, problems);
      messages.set(lang, Object.fromEntries(texts) as Messages);
    });
  }
  const byKey = new Map(flows.map((f) => [f.key, f]));
  for (const f of files.filter((f) => !f.startsWith('engine.'))) {
    const path = join(dir, f);
    attempt(() => {
      const m = /^([a-z][a-z0-9-]{1,40})\.v(\d+)\.([a-z]{2,3})\.ya?ml$/.exec(f);
      if (!m || !isLanguageCode(m[3]!)) throw new FlowFileError(path, ['name flow translations <flow id>.v<version>.<language code>.yaml']);
      const [, id, version, lang] = m as unknown as [string, string, string, string];
      const base = byKey.get(flowKey(id, Number(version)));
      if (!base) throw new FlowFileError(path, [`no flow ${id} version ${version} in flows/`]);
      const msg = messages.get(lang);
      if (!msg) throw new FlowFileError(path, [`the engine has no ${lang} translation: add flows/i18n/engine.${lang}.yaml`]);
      const texts = flatten(readYaml(path));
      const problems = translationProblems(flowTexts(base), texts);
      if (problems.length) throw new FlowFileError(path, problems);
      compileFlow(translateFlow(base, texts), lang, msg, base.variants);
    });
  }
  return errors;
}
