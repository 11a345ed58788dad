import { randomBytes, randomInt } from 'node:crypto';

// Short codes avoid vowels, d, w and the tone keys s f r x j: typed on a
// Vietnamese Telex or VNI keyboard they never turn into accented letters. No
// 0/O or 1/I/L either, so they cannot be misread on paper.
export const CODE_ALPHABET = 'BCGHKMNPQTV23456789';
export const CODE_LENGTH = 8;

export function newCode(): string {
  let s = '';
  for (let i = 0; i < CODE_LENGTH; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s;
}

/** "ab-cd 2345", "bcgh‑2345" -> "BCGH2345"; undefined when it cannot be a code. */
export function normalizeCode(text: string): string | undefined {
  const s = text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'D')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
  if (s.length !== CODE_LENGTH) return undefined;
  for (const ch of s) if (!CODE_ALPHABET.includes(ch)) return undefined;
  return s;
}

/** How a code is printed: two groups of four. */
export const formatCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/** 128-bit unguessable token for deep links and the landing page (22 chars of A-Za-z0-9_-). */
export const newToken = () => randomBytes(16).toString('base64url');

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** A code typed alone or inside a sentence ("Mã của tôi là B9H5-3PBC"): the whole text, or one or two adjacent words. */
export function findCode(text: string): string | undefined {
  const whole = normalizeCode(text);
  if (whole) return whole;
  const words = text.split(/[\s,.;:!?()"']+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const one = normalizeCode(words[i]!);
    if (one) return one;
    const two = i + 1 < words.length ? normalizeCode(words[i]! + words[i + 1]!) : undefined;
    if (two) return two;
  }
  return undefined;
}
