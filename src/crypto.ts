import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A stable, non-reversible respondent id: HMAC of the channel user id. */
export function pseudonym(key: string, channel: string, userKey: string): string {
  return createHmac('sha256', key).update(`${channel}:${userKey}`).digest('base64url').slice(0, 27);
}

/** AES-256-GCM; output is base64(iv | tag | ciphertext). */
export function encrypt(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

/** Keys replaced by a rotation: data sealed with them is still read until it is re-encrypted. */
let previousKeys: readonly Buffer[] = [];
export function acceptPreviousKeys(keys: readonly Buffer[]): void {
  previousKeys = keys;
}

/** Opens data sealed with `key`, or with a key it replaced (see acceptPreviousKeys). */
export function decrypt(key: Buffer, sealed: string): string {
  const buf = Buffer.from(sealed, 'base64');
  for (const k of [key, ...previousKeys]) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', k, buf.subarray(0, 12));
      decipher.setAuthTag(buf.subarray(12, 28));
      return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8');
    } catch (err) {
      if (k === (previousKeys.at(-1) ?? key)) throw err;
    }
  }
  throw new Error('unreachable');
}

/** Whether `sealed` opens with `key` itself (not with a previous one). */
export function sealedWith(key: Buffer, sealed: string): boolean {
  const saved = previousKeys;
  previousKeys = [];
  try {
    decrypt(key, sealed);
    return true;
  } catch {
    return false;
  } finally {
    previousKeys = saved;
  }
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Constant-time string comparison (length differences are not hidden; secrets here have fixed length). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
