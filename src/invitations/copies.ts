// The Redis copy of each open invitation: what opening a survey needs (unit,
// field, flow, status, expiry, who claimed it), so the webhook path never
// waits on MongoDB. MongoDB stays the record; a missing copy (a Redis restart
// without AOF) is rebuilt from it by Invitations.open.
import type { RedisClient } from '../redis.js';

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

// Claims the invitation's copy for a respondent. KEYS: the copy. ARGV: claimant, now.
// -> {'missing'} | {status} | {'expired'} | {'taken'} | {'ok', data}
const CLAIM = `
local r = redis.call('HMGET', KEYS[1], 'd', 'st', 'exp', 'by')
if not r[1] then return {'missing'} end
if r[2] == 'completed' or r[2] == 'cancelled' or r[2] == 'expired' then return {r[2]} end
if tonumber(r[3]) <= tonumber(ARGV[2]) then return {'expired'} end
if r[4] and r[4] ~= ARGV[1] then return {'taken'} end
if not r[4] then redis.call('HSET', KEYS[1], 'by', ARGV[1]) end
return {'ok', r[1]}
`;

type ClaimReply = [string, string?];

export type CopyOpen =
  | { kind: 'ok'; copy: InvitationCopy }
  | { kind: 'duplicate' | 'missing' | 'taken' | 'completed' | 'cancelled' | 'expired' }
  | { kind: 'locked'; ms: number };

export class InvitationCopies {
  private readonly redis: RedisClient & { invClaim(copy: string, who: string, now: number): Promise<ClaimReply> };

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    if (!('invClaim' in redis)) redis.defineCommand('invClaim', { numberOfKeys: 1, lua: CLAIM });
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
    // The copy and its two lookups live in different slots on a cluster, so they are not one transaction: a lookup
    // without its copy (or the reverse) reads as missing, and opening rebuilds both from MongoDB.
    const m = this.redis.multi();
    m.hset(this.key(c.id), 'd', JSON.stringify(data), 'st', c.status, 'exp', c.expiresAt);
    if (claimedBy) m.hsetnx(this.key(c.id), 'by', claimedBy);
    m.pexpire(this.key(c.id), ttl);
    await Promise.all([
      m.exec(),
      this.redis.set(this.lookupKey({ token: c.token }), c.id, 'PX', ttl),
      this.redis.set(this.lookupKey({ code: c.code }), c.id, 'PX', ttl),
    ]);
  }

  /** Keeps the copy in step with MongoDB (cancel, completion); a missing copy stays missing. */
  async setStatus(id: string, status: InvitationCopy['status']): Promise<void> {
    await this.redis.eval(`if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'st', ARGV[1]) end`, 1, this.key(id), status);
  }

  /** Whether a respondent has claimed the invitation (opened it), recorded in MongoDB or not yet. */
  async claimed(id: string): Promise<boolean> {
    return (await this.redis.hexists(this.key(id), 'by')) === 1;
  }

  /**
   * Looks up and claims an invitation for `claimant`: the event's dedupe mark, the guess lock and the lookup are
   * read together (one round trip; they live in different slots on a cluster), then the copy is claimed.
   */
  async open(by: { token: string } | { code: string }, claimant: string, lockKey: string, dedupeKey: string, now: number): Promise<CopyOpen> {
    const [seen, lockMs, id] = await Promise.all([dedupeKey ? this.redis.exists(dedupeKey) : 0, this.redis.pttl(lockKey), this.redis.get(this.lookupKey(by))]);
    if (seen) return { kind: 'duplicate' };
    if (lockMs > 0) return { kind: 'locked', ms: lockMs };
    if (!id) return { kind: 'missing' };
    const [kind, arg] = await this.redis.invClaim(this.key(id), claimant, now);
    if (kind === 'ok') {
      const data = JSON.parse(String(arg)) as Omit<InvitationCopy, 'claimedBy' | 'status'>;
      return { kind: 'ok', copy: { ...data, status: 'opened', claimedBy: claimant } };
    }
    return { kind: kind as 'missing' };
  }
}
