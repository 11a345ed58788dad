// Translations are reviewed files next to the flows, keyed by what they
// translate, so a missing or stray key is found by `npm run flows:check`:
//   flows/i18n/engine.<lang>.yaml          what the engine says (messages.ts keys)
//   flows/i18n/<id>.v<version>.<lang>.yaml one flow version's texts
// Values never change with the language: answers stay comparable.
import type { FlowData } from './flow.js';
import { MESSAGE_KEYS, type Messages } from './messages.js';

const LANGUAGE = /^[a-z]{2,3}$/;
export const isLanguageCode = (s: string) => LANGUAGE.test(s);

/** Every translatable text of a flow, by key ("questions.consent.text", "scales.hl5.1", ...). */
export function flowTexts(f: FlowData): Map<string, string> {
  const t = new Map<string, string>([
    ['title', f.title],
    ['thankYou', f.thankYou],
  ]);
  for (const e of f.elements) t.set(`elements.${e.code}`, e.name);
  for (const [name, options] of Object.entries(f.scales)) for (const o of options) t.set(`scales.${name}.${o.value}`, o.label);
  for (const q of f.questions) {
    t.set(`questions.${q.id}.text`, q.text);
    if (q.type === 'choice') for (const o of q.options ?? []) t.set(`questions.${q.id}.options.${o.value}`, o.label);
  }
  return t;
}

/** A translation file's nested keys as dotted keys; only string leaves are texts. */
export function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
  return out;
}

const placeholders = (s: string) =>
  [...s.matchAll(/\{(\w+)\}/g)]
    .map((m) => m[1])
    .sort()
    .join(',');

/** Problems of a translation against its source texts: missing, unknown, empty or with other {placeholders}. */
export function translationProblems(source: Map<string, string>, translated: Map<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, text] of source) {
    const t = translated.get(key);
    if (t === undefined) problems.push(`${key}: missing translation`);
    else if (typeof t !== 'string' || t.trim() === '') problems.push(`${key}: must be a non-empty text`);
    else if (placeholders(t) !== placeholders(text)) problems.push(`${key}: must keep the placeholders {${placeholders(text).split(',').join('}, {')}}`);
  }
  for (const key of translated.keys()) if (!source.has(key)) problems.push(`${key}: not a text of the source (a typo, or a question that no longer exists)`);
  return problems;
}

export const messageTexts = (m: Messages) => new Map<string, string>(MESSAGE_KEYS.map((k) => [k, m[k]]));

/** The flow with its texts replaced; typed answers in the source language still match (its labels become aliases). */
export function translateFlow(f: FlowData, texts: Map<string, unknown>): FlowData {
  const tr = (key: string, fallback: string) => (texts.get(key) as string | undefined) ?? fallback;
  const option = (key: string) => (o: FlowData['scales'][string][number]) => ({
    ...o,
    label: tr(`${key}.${o.value}`, o.label),
    aliases: [...o.aliases, o.label],
  });
  return {
    ...f,
    title: tr('title', f.title),
    thankYou: tr('thankYou', f.thankYou),
    elements: f.elements.map((e) => ({ ...e, name: tr(`elements.${e.code}`, e.name) })),
    scales: Object.fromEntries(Object.entries(f.scales).map(([name, options]) => [name, options.map(option(`scales.${name}`))])),
    questions: f.questions.map((q) => ({
      ...q,
      text: tr(`questions.${q.id}.text`, q.text),
      ...(q.type === 'choice' && q.options ? { options: q.options.map(option(`questions.${q.id}.options`)) } : {}),
    })) as FlowData['questions'],
  };
}
