// Conversations in Redis: one hash per chat {v: version, d: JSON}. Reads claim
// nothing; writes are compare-and-set on the version and mark the platform
// event as processed in the same script, so a webhook costs two round trips.
import type { Redis } from 'ioredis';
import type { Conversation } from './conversation.js';

const LOAD = `
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return {-1, false} end
local r = redis.call('HMGET', KEYS[1], 'v', 'd')
return {tonumber(r[1] or '0'), r[2]}
`;

const SAVE = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end
return v + 1
`;

interface Scripts {
  convLoad(conv: string, dedupe: string): Promise<[number, string | null]>;
  convSave(conv: string, dedupe: string, expected: number, data: string, ttlMs: number, dedupeTtlMs: number): Promise<number>;
}

export type Loaded = { duplicate: true } | { duplicate: false; version: number; conversation: Conversation };

export interface StoreOptions {
  /** Key prefix, e.g. "tthc:" (tests use one per file). */
  prefix: string;
  sessionTtlMs: number;
  /** How long a platform event id stays claimed (Telegram keeps updates 24 h). */
  dedupeTtlMs?: number;
}

export class ConversationStore {
  private readonly redis: Redis & Scripts;
  private readonly dedupeTtlMs: number;

  constructor(
    redis: Redis,
    private readonly opts: StoreOptions,
  ) {
    if (!('convLoad' in redis)) {
      redis.defineCommand('convLoad', { numberOfKeys: 2, lua: LOAD });
      redis.defineCommand('convSave', { numberOfKeys: 2, lua: SAVE });
    }
    this.redis = redis as Redis & Scripts;
    this.dedupeTtlMs = opts.dedupeTtlMs ?? 24 * 3600_000;
  }

  private key(conv: string) {
    return `${this.opts.prefix}conv:${conv}`;
  }

  private dedupeKey(eventId: string | undefined) {
    return eventId ? `${this.opts.prefix}seen:${eventId}` : '';
  }

  async load(conv: string, eventId?: string): Promise<Loaded> {
    const [version, data] = await this.redis.convLoad(this.key(conv), this.dedupeKey(eventId));
    if (version === -1) return { duplicate: true };
    return { duplicate: false, version, conversation: data ? (JSON.parse(data) as Conversation) : {} };
  }

  /** Returns false when another writer saved first (the caller reloads and recomputes). */
  async save(conv: string, expectedVersion: number, conversation: Conversation, eventId?: string, ttlMs = this.opts.sessionTtlMs): Promise<boolean> {
    const data = JSON.stringify(conversation);
    const r = await this.redis.convSave(this.key(conv), this.dedupeKey(eventId), expectedVersion, data, ttlMs, this.dedupeTtlMs);
    return r !== -1;
  }

  /** Size in bytes of what is stored for a conversation (for the size budget test). */
  async sizeOf(conv: string): Promise<number> {
    const d = await this.redis.hget(this.key(conv), 'd');
    return d ? Buffer.byteLength(d) : 0;
  }
}
