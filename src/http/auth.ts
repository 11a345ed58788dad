// API keys: "<id>.<secret>"; only sha256(secret) is stored. Roles: officer
// (one unit, or a unit and the units under it), pv01 (the whole campaign), admin.
import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { safeEqual, sha256 } from '../crypto.js';
import type { Models } from '../db.js';
import type { Actor } from '../invitations/invitations.js';
import type { RedisClient } from '../redis.js';
import { HttpError } from './errors.js';

export type Role = Actor['role'];

export async function createApiKey(models: Models, role: Role, unit?: string, label?: string, subUnits = false): Promise<{ id: string; key: string }> {
  if (role === 'officer' && !unit) throw new Error('an officer key needs --unit');
  const id = randomBytes(9).toString('base64url');
  const secret = randomBytes(24).toString('base64url');
  const officer = role === 'officer';
  await models.ApiKey.create({
    _id: id,
    hash: sha256(secret),
    role,
    unit: officer ? unit : undefined,
    ...(officer && subUnits ? { subUnits: true } : {}),
    label,
    createdAt: new Date(),
  });
  return { id, key: `${id}.${secret}` };
}

/** Requests per key and minute before 429: far above an officer's or a case system's pace, low enough to stop a runaway client. */
export const API_REQUESTS_PER_MINUTE = 600;

/**
 * Verifies the key on every request (one read by id): a revoked key stops
 * working at once on every process. Each key has a request budget per minute
 * in Redis, shared by all processes.
 */
export function authenticator(models: Models, limits?: { redis: RedisClient; prefix: string; perMinute?: number }) {
  async function verify(header: string | undefined): Promise<Actor> {
    const m = /^Bearer\s+([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{32})$/.exec(header ?? '');
    if (!m) throw new HttpError(401, 'unauthorized', 'missing or malformed Authorization: Bearer <key>');
    const [, id, secret] = m as unknown as [string, string, string];
    const doc = await models.ApiKey.findById(id).lean();
    if (!doc || doc.revokedAt || !safeEqual(doc.hash, sha256(secret))) throw new HttpError(401, 'unauthorized', 'unknown or revoked API key');
    return { keyId: id, role: doc.role as Role, ...(doc.unit ? { unit: doc.unit } : {}), ...(doc.subUnits ? { subUnits: true } : {}) };
  }

  async function withinBudget(keyId: string): Promise<void> {
    if (!limits) return;
    const key = `${limits.prefix}api-rate:${keyId}:${Math.floor(Date.now() / 60_000)}`;
    const [[, used]] = (await limits.redis.multi().incr(key).expire(key, 120).exec()) as [[unknown, number]];
    if (used > (limits.perMinute ?? API_REQUESTS_PER_MINUTE)) throw new HttpError(429, 'rate_limited', 'too many requests with this key: wait a minute');
  }

  /** Requires a key with one of the roles (any role when none is given). */
  return (...roles: Role[]): RequestHandler =>
    async (req, res, next) => {
      const actor = await verify(req.get('authorization'));
      await withinBudget(actor.keyId);
      if (roles.length && !roles.includes(actor.role)) throw new HttpError(403, 'forbidden', `this needs a ${roles.join(' or ')} key`);
      res.locals.actor = actor;
      next();
    };
}
