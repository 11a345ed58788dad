// Tolerant matching of typed answers: Vietnamese with or without diacritics,
// any case, NFC or NFD, extra spaces.
import type { Option } from './flow.js';

/** "Rất  Hài lòng!" -> "rat hai long". */
export function normalize(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/[.,!?;:"'()]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The 1-based option number a typed answer selects, or undefined. */
export function matchOption(options: ReadonlyArray<Pick<Option, 'value' | 'label' | 'aliases'>>, text: string): number | undefined {
  const t = normalize(text);
  if (/^\d{1,2}$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= options.length ? n : undefined;
  }
  const i = options.findIndex((o) => normalize(o.label) === t || normalize(String(o.value)) === t || o.aliases.some((a) => normalize(a) === t));
  return i >= 0 ? i + 1 : undefined;
}

export type Command = 'back' | 'restart' | 'stop' | 'help' | 'skip';

const COMMANDS: Record<string, Command> = {
  '/back': 'back',
  'quay lai': 'back',
  'cau truoc': 'back',
  '/restart': 'restart',
  'lam lai': 'restart',
  'bat dau lai': 'restart',
  '/stop': 'stop',
  dung: 'stop',
  'dung lai': 'stop',
  huy: 'stop',
  '/help': 'help',
  'tro giup': 'help',
  'huong dan': 'help',
  '/skip': 'skip',
  'bo qua': 'skip',
};

/**
 * A respondent command in typed text. Bare words count only where the text is
 * not free text (`slashOnly`), so a comment that says "dừng" is kept as a comment.
 */
export function matchCommand(text: string, slashOnly: boolean): Command | undefined {
  const t = normalize(text.replace(/@\w+$/, ''));
  if (slashOnly && !t.startsWith('/')) return t === 'bo qua' ? 'skip' : undefined;
  // Own keys only: a respondent typing "__proto__" or "constructor" is not a command.
  return Object.hasOwn(COMMANDS, t) ? COMMANDS[t] : undefined;
}

/** Choice keys that switch language: "lang" + the language code ("langen"). */
export const LANGUAGE_KEY_PREFIX = 'lang';

/**
 * A language switch in typed text: "/lang" (the next language), "/lang en", or
 * a language's own name ("English"). Free text takes only the slash form.
 */
export function matchLanguage(text: string, flow: { variants: Map<string, { msg: { languageName: string } }> }, slashOnly: boolean): string | undefined {
  if (flow.variants.size < 2) return undefined;
  const t = normalize(text);
  const slash = /^\/lang(?:uage)?(?: ([a-z]{2,3}))?$/.exec(t);
  if (slash) return slash[1] && flow.variants.has(slash[1]) ? slash[1] : '';
  if (slashOnly) return undefined;
  if (t === 'ngon ngu' || t === 'language') return '';
  for (const [lang, v] of flow.variants) if (normalize(v.msg.languageName) === t) return lang;
  return undefined;
}
