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
export function matchOption(options: readonly Option[], text: string): number | undefined {
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
  return COMMANDS[t];
}
