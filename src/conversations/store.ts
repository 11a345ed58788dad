// Conversations in Redis: one hash per chat {v: version, d: JSON}. A save is a
// compare-and-set on the version that also checks and marks the platform event
// id, in one Lua script. This process keeps the conversations it saved last in
// memory, so an update normally costs a single Redis round trip; when another
// process wrote in between, the script refuses and returns the fresh state.
import { randomUUID } from 'node:crypto';
import { heldKey } from '../outbound/held.js';
import type { RedisClient } from '../redis.js';
import { VarKeysScript } from '../redis-script.js';
import { allChatTags, chatTag } from '../slots.js';
import type { Conversation } from './conversation.js';

const READ = `
local r = redis.call('HMGET', KEYS[1], 'v', 'd')
return {tonumber(r[1] or '0'), r[2]}
`;

// KEYS[3]: the set of replies saved but not yet sent ('' when the save owes no reply); the mark this save replaces, if
// any, is returned (an earlier save's, not yet settled).
// KEYS[4]: the chat's held-replies mark, returned so that the reply queues behind them.
const SAVE = `
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return {-2} end
local r = redis.call('HMGET', KEYS[1], 'v', 'd')
local v = tonumber(r[1] or '0')
if v ~= tonumber(ARGV[1]) then return {-1, v, r[2]} end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end
local owed = false
if KEYS[3] ~= '' then
  owed = redis.call('ZSCORE', KEYS[3], ARGV[6])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
end
return {v + 1, redis.call('GET', KEYS[4]), owed}
`;

// Settles replies: KEYS[i] owes ARGV[2i-1] (a conversation) saved at ARGV[2i]; each mark goes unless a newer save owes
// another reply.
const SETTLE = new VarKeysScript(`
for i = 1, #KEYS do
  local at = redis.call('ZSCORE', KEYS[i], ARGV[2 * i - 1])
  if at and tonumber(at) <= tonumber(ARGV[2 * i]) then redis.call('ZREM', KEYS[i], ARGV[2 * i - 1]) end
end
return 0
`);

interface Scripts {
  convRead(conv: string): Promise<[number, string | null]>;
  convSave(
    conv: string,
    dedupe: string,
    unsent: string,
    held: string,
    expected: number,
    data: string,
    ttlMs: number,
    dedupeTtlMs: number,
    at: number,
    member: string,
  ): Promise<[number, (number | string | null)?, (string | null)?]>;
}

export interface Versioned {
  version: number;
  conversation: Conversation;
}

export type SaveResult =
  /**
   * `heldBehind`: the chat's last reply job waiting in the outbound queue, if any (a reply must not overtake it).
   * `owedSince`: when the earlier save whose reply-owed mark this save replaced was made (its effects not yet settled).
   */
  { ok: true; version: number; heldBehind?: string; owedSince?: number } | { ok: false; duplicate: true } | { ok: false; duplicate: false; current: Versioned };

export interface StoreOptions {
  /** Key prefix, e.g. "tthc:" (tests use one per file). */
  prefix: string;
  sessionTtlMs: number;
  /** How long a platform event id stays claimed (platforms redeliver for up to 24 h). */
  dedupeTtlMs?: number;
  /** Conversations kept in memory (most recently used); 0 disables the cache. */
  cacheSize?: number;
  /** A stored conversation could not be read: it was set aside under `keptAs` and the chat starts afresh. */
  onDamaged?: (err: UnreadableConversationError, keptAs: string) => void;
}

/** A stored conversation that is not a JSON object (damaged by hand or by a bug). The message never quotes it: it holds answers. */
export class UnreadableConversationError extends Error {
  override name = 'UnreadableConversationError';
}

/** The conversation stored as `data`, or an UnreadableConversationError. */
function parseConversation(data: string | null | undefined): Conversation | UnreadableConversationError {
  if (!data) return {};
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Conversation;
  } catch {}
  return new UnreadableConversationError(`a stored conversation is not a JSON object (${data.length} characters)`);
}

/** Flushes of settlements tried again after the first fails (100 ms, doubling: about 12 s in all). */
const SETTLE_RETRIES = 7;

/** The settlements grouped by chat bucket (a script's keys must share a cluster slot). */
function byChatBucket(batch: Array<[string, number]>): Array<Array<[string, number]>> {
  const groups = new Map<string, Array<[string, number]>>();
  for (const item of batch) {
    const tag = chatTag(item[0]);
    const group = groups.get(tag);
    if (group) group.push(item);
    else groups.set(tag, [item]);
  }
  return [...groups.values()];
}

/** Where a chat's conversation is kept. */
export const conversationKey = (prefix: string, conv: string) => `${prefix}conv:${chatTag(conv)}:${conv}`;

/**
 * Replies saved but not yet sent: a save that owes a reply marks its
 * conversation here in the same script, and the mark goes once the reply is
 * sent or durably queued. A process killed in between leaves the mark, and the
 * conversations still marked after a while are asked again (see
 * ConversationRunner.recoverUnsent). One set per chat bucket (see slots.ts).
 */
const unsentKeyOf = (prefix: string, tag: string) => `${prefix}unsent:${tag}`;

/** The set of replies owed in the chat's bucket. */
export const unsentKey = (prefix: string, conv: string) => unsentKeyOf(prefix, chatTag(conv));

export class ConversationStore {
  private readonly redis: RedisClient & Scripts;
  private readonly dedupeTtlMs: number;
  private readonly cacheSize: number;
  /** Map order is recency: a hit is moved to the end, the oldest entry is evicted. */
  private readonly cache = new Map<string, Versioned>();
  /** How long an idle conversation is kept (the campaign's setting; see Service.applyCampaign). */
  sessionTtlMs: number;

  constructor(
    redis: RedisClient,
    private readonly opts: StoreOptions,
  ) {
    if (!('convSave' in redis)) {
      redis.defineCommand('convRead', { numberOfKeys: 1, lua: READ });
      redis.defineCommand('convSave', { numberOfKeys: 4, lua: SAVE });
    }
    this.redis = redis as RedisClient & Scripts;
    this.dedupeTtlMs = opts.dedupeTtlMs ?? 24 * 3600_000;
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.sessionTtlMs = opts.sessionTtlMs;
  }

  private key(conv: string) {
    return conversationKey(this.opts.prefix, conv);
  }

  /** The key that marks an event id processed ('' for none); in the chat's slot, as the save script checks it. */
  dedupeKey(conv: string, eventId: string | undefined) {
    return eventId ? `${this.opts.prefix}seen:${chatTag(conv)}:${eventId}` : '';
  }

  private remember(conv: string, v: Versioned) {
    if (!this.cacheSize) return;
    this.cache.delete(conv);
    this.cache.set(conv, v);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }

  /** The conversation as this process last saw it (no round trip), else from Redis. Treat it as immutable. */
  async read(conv: string): Promise<Versioned> {
    const cached = this.cache.get(conv);
    if (cached) return cached;
    const [version, data] = await this.redis.convRead(this.key(conv));
    const parsed = parseConversation(data);
    return { version, conversation: parsed instanceof UnreadableConversationError ? await this.setAside(conv, data, parsed) : parsed };
  }

  /**
   * A damaged conversation is copied aside (for as long as a conversation is kept) and read as empty, so that the next
   * save replaces it: the respondent is told how to start again (their invitation starts the survey afresh), where
   * each update would otherwise fail, and be redelivered, for as long as the data stays.
   */
  private async setAside(conv: string, data: string | null | undefined, err: UnreadableConversationError): Promise<Conversation> {
    // Named by a random id, not the chat: the log that gives the name must not identify the respondent.
    const keptAs = `${this.opts.prefix}damaged:${randomUUID()}`;
    await this.redis.set(keptAs, JSON.stringify({ conv, data }), 'PX', this.sessionTtlMs);
    this.opts.onDamaged?.(err, keptAs);
    return {};
  }

  /**
   * Saves if the stored version is still `expected` and the event was not seen
   * before (marking it seen). Otherwise says why: a duplicate event, or a newer
   * conversation written by another process (returned, to recompute on).
   */
  async save(conv: string, expected: number, conversation: Conversation, eventId?: string, owesReplyAt?: number): Promise<SaveResult> {
    const [code, version, data] = await this.redis.convSave(
      this.key(conv),
      this.dedupeKey(conv, eventId),
      owesReplyAt === undefined ? '' : unsentKey(this.opts.prefix, conv),
      heldKey(this.opts.prefix, conv),
      expected,
      JSON.stringify(conversation),
      this.sessionTtlMs,
      this.dedupeTtlMs,
      owesReplyAt ?? 0,
      conv,
    );
    if (code === -2) return { ok: false, duplicate: true };
    if (code === -1) {
      const parsed = parseConversation(data);
      const conversation = parsed instanceof UnreadableConversationError ? await this.setAside(conv, data, parsed) : parsed;
      const current = { version: version as number, conversation };
      this.remember(conv, current);
      return { ok: false, duplicate: false, current };
    }
    this.remember(conv, { version: code, conversation });
    return {
      ok: true,
      version: code,
      ...(typeof version === 'string' ? { heldBehind: version } : {}),
      ...(typeof data === 'string' ? { owedSince: Number(data) } : {}),
    };
  }

  /**
   * Replies settled since the last flush, written together (this runs once per update): one script call for the
   * batch, or on a cluster one per chat bucket in it (a script's keys share a slot). The marks matter only to the
   * recovery, which waits far longer than a flush.
   */
  private settling: Array<[string, number]> = [];
  private settleFlush?: Promise<void>;

  replySettled(conv: string, savedAt: number): Promise<void> {
    this.settling.push([conv, savedAt]);
    return this.flushSettling(50, 0);
  }

  /**
   * Writes the settlements waiting after `delayMs`. When Redis cannot be reached (a failover, a blip) they wait for
   * the next flush, tried again with a growing pause for about 12 s: a mark left standing would have the recovery ask a
   * question the respondent already has.
   */
  private flushSettling(delayMs: number, failures: number): Promise<void> {
    // A retry's pause does not hold the process open (the recovery covers a process that exits meanwhile).
    this.settleFlush ??= new Promise<void>((r) => (failures ? setTimeout(r, delayMs).unref() : setTimeout(r, delayMs))).then(async () => {
      const batch = this.settling;
      this.settling = [];
      this.settleFlush = undefined;
      await this.writeSettled(batch).catch((err: Error) => {
        if (failures < SETTLE_RETRIES) {
          this.settling.push(...batch);
          void this.flushSettling(100 * 2 ** failures, failures + 1).catch(() => {});
        }
        throw err;
      });
    });
    return this.settleFlush;
  }

  private async writeSettled(batch: Array<[string, number]>): Promise<void> {
    await Promise.all(
      (this.redis.isCluster ? byChatBucket(batch) : [batch]).map((g) =>
        SETTLE.run(
          this.redis,
          g.map(([c]) => unsentKey(this.opts.prefix, c)),
          g.flat(),
        ),
      ),
    );
  }

  /** Writes the settlements still waiting for their batch (at shutdown: a reply sent must not stay owed). */
  flushSettled(): Promise<void> {
    return this.settleFlush ?? Promise.resolve();
  }

  /**
   * Conversations owing a reply since before `before`, oldest first. A bucket that cannot be read (its cluster node
   * down) is left out and its error given to `onError` (thrown without one): the other buckets' replies still go.
   */
  async unsent(before: number, limit = 500, onError?: (err: Error) => void): Promise<string[]> {
    const buckets = await Promise.allSettled(
      allChatTags().map((tag) => this.redis.zrangebyscore(unsentKeyOf(this.opts.prefix, tag), '-inf', before, 'WITHSCORES', 'LIMIT', 0, limit)),
    );
    const owed: Array<[string, number]> = [];
    for (const bucket of buckets) {
      if (bucket.status === 'rejected') {
        if (!onError) throw bucket.reason;
        onError(bucket.reason as Error);
        continue;
      }
      const flat = bucket.value;
      for (let i = 0; i < flat.length; i += 2) owed.push([flat[i]!, Number(flat[i + 1])]);
    }
    return owed
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([conv]) => conv);
  }

  /** Size in bytes of what is stored for a conversation (for the size budget test). */
  async sizeOf(conv: string): Promise<number> {
    const d = await this.redis.hget(this.key(conv), 'd');
    return d ? Buffer.byteLength(d) : 0;
  }
}
