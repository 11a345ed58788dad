// The Redis copy of each open invitation: what opening a survey needs (unit,
// field, flow, status, expiry, who claimed it), so the webhook path never
// waits on MongoDB. MongoDB stays the record; a missing copy (a Redis restart
// without AOF) is rebuilt from it by Invitations.open.
import type { Redis } from 'ioredis';

export interface InvitationCopy {
  id: string;
  flow: string;
  unit: string;
  unitName: string;
  caseCode: string;
  respondentType?: string;
  /** What the flow's texts are filled with (invitations created before it existed have none). */
  ctx?: Record<string, string>;
  status: 'created' | 'opened' | 'completed' | 'expired' | 'cancelled';
  expiresAt: number;
  token: string;
  code: string;
  /** Pseudonym of the respondent who opened it first (never a raw chat id). */
  claimedBy?: string;
}

/** Keys live until a month after the invitation expires; after that MongoDB answers "expired". */
const KEEP_AFTER_EXPIRY_MS = 30 * 86_400_000;

// KEYS: lookup (token or code -> id), guess lock, dedupe mark of the event ('' for none)
// ARGV: claimant, now, invitation key prefix
// -> {'dup'} | {'locked', ms} | {'missing'} | {status, data} | {'taken'} | {'ok', data}
const OPEN = `
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return {'dup'} end
local lock = redis.call('PTTL', KEYS[2])
if lock > 0 then return {'locked', lock} end
local id = redis.call('GET', KEYS[1])
if not id then return {'missing'} end
local key = ARGV[3] .. id
local r = redis.call('HMGET', key, 'd', 'st', 'exp', 'by')
if not r[1] then return {'missing'} end
if r[2] == 'completed' or r[2] == 'cancelled' or r[2] == 'expired' then return {r[2]} end
if tonumber(r[3]) <= tonumber(ARGV[2]) then return {'expired'} end
if r[4] and r[4] ~= ARGV[1] then return {'taken'} end
if not r[4] then redis.call('HSET', key, 'by', ARGV[1]) end
return {'ok', r[1]}
`;

type OpenReply = [string, (string | number)?];

export type CopyOpen =
  | { kind: 'ok'; copy: InvitationCopy }
  | { kind: 'duplicate' | 'missing' | 'taken' | 'completed' | 'cancelled' | 'expired' }
  | { kind: 'locked'; ms: number };

export class InvitationCopies {
  private readonly redis: Redis & { invOpen(lookup: string, lock: string, dedupe: string, who: string, now: number, prefix: string): Promise<OpenReply> };

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    if (!('invOpen' in redis)) redis.defineCommand('invOpen', { numberOfKeys: 3, lua: OPEN });
    this.redis = redis as InvitationCopies['redis'];
  }

  private key(id: string) {
    return `${this.prefix}inv:${id}`;
  }

  lookupKey(by: { token: string } | { code: string }) {
    return 'token' in by ? `${this.prefix}inv-token:${by.token}` : `${this.prefix}inv-code:${by.code}`;
  }

  /** Writes (or rewrites) the copy of an invitation. `now` is the service's clock (Redis expiries are relative to it). */
  async put(c: InvitationCopy, now: number): Promise<void> {
    const { claimedBy, ...data } = c;
    const ttl = Math.max(1, c.expiresAt + KEEP_AFTER_EXPIRY_MS - now);
    const m = this.redis.multi();
    m.hset(this.key(c.id), 'd', JSON.stringify(data), 'st', c.status, 'exp', c.expiresAt);
    if (claimedBy) m.hsetnx(this.key(c.id), 'by', claimedBy);
    m.pexpire(this.key(c.id), ttl);
    m.set(this.lookupKey({ token: c.token }), c.id, 'PX', ttl);
    m.set(this.lookupKey({ code: c.code }), c.id, 'PX', ttl);
    await m.exec();
  }

  /** Keeps the copy in step with MongoDB (cancel, completion); a missing copy stays missing. */
  async setStatus(id: string, status: InvitationCopy['status']): Promise<void> {
    await this.redis.eval(`if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'st', ARGV[1]) end`, 1, this.key(id), status);
  }

  /** Looks up and claims an invitation for `claimant` in one round trip (also checking the guess lock and the event's dedupe mark). */
  async open(by: { token: string } | { code: string }, claimant: string, lockKey: string, dedupeKey: string, now: number): Promise<CopyOpen> {
    const [kind, arg] = await this.redis.invOpen(this.lookupKey(by), lockKey, dedupeKey, claimant, now, `${this.prefix}inv:`);
    if (kind === 'ok') {
      const data = JSON.parse(String(arg)) as Omit<InvitationCopy, 'claimedBy' | 'status'>;
      return { kind: 'ok', copy: { ...data, status: 'opened', claimedBy: claimant } };
    }
    if (kind === 'locked') return { kind, ms: Number(arg) };
    if (kind === 'dup') return { kind: 'duplicate' };
    return { kind: kind as 'missing' };
  }
}
