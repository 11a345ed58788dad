// Send pacing: a global limit for the bot and a per-chat limit with a small
// burst (GCRA: each key holds the theoretical arrival time of the next
// message). A blocked chat is refused outright. The sends of one turn of the
// event loop take their slots in one script call (under load, many replies
// start in one turn). The time is Redis's own (TIME): every process paces on
// one clock, so a process whose clock is ahead cannot hold the others back.
import type { RedisClient } from '../redis.js';
import { VarKeysScript } from '../redis-script.js';

// Redis's time in milliseconds.
const CLOCK = `local function clock() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end`;

// Takes slots for a batch of sends, in order: KEYS[1] the global limit, then per send its chat's limit and unreachable
// mark; ARGV the limits, then per send its time ('' for Redis's) and whether it is paced. Returns per send 0 (go), the
// milliseconds to wait, or -1 (unreachable). A refused send takes nothing.
const TAKE = new VarKeysScript(`
${CLOCK}
local serverNow = clock()
local gi, gt, ci, cb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- GCRA: the wait until the key's next slot, less the tolerance (how long before its slot a send may go).
local function wait(key, now, tolerance)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local w = tat - now - tolerance
  if w < 0 then w = 0 end
  return w, tat
end
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local chatKey, blocked = KEYS[2 * i], KEYS[2 * i + 1]
  local now, paced = tonumber(ARGV[3 + 2 * i]) or serverNow, ARGV[4 + 2 * i] == '1'
  if redis.call('EXISTS', blocked) == 1 then
    out[i] = -1
  else
    local gw, gtat = wait(KEYS[1], now, gt)
    local cw = 0
    if paced then cw = wait(chatKey, now, ci * (cb - 1)) end
    if gw > 0 or cw > 0 then
      out[i] = math.ceil(math.max(gw, cw))
    else
      redis.call('SET', KEYS[1], gtat + gi, 'PX', 60000)
      local chatTat = tonumber(redis.call('GET', chatKey) or '0')
      if chatTat < now then chatTat = now end
      redis.call('SET', chatKey, chatTat + ci, 'PX', 3600000)
      out[i] = 0
    end
  end
end
return out
`);

// Holds the chat's paced sends for ARGV[1] ms from now (Redis's time).
const PAUSE = `
${CLOCK}
local now = clock()
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = now + tonumber(ARGV[1])
if tat < until_ then redis.call('SET', KEYS[1], until_, 'PX', math.max(0, tonumber(ARGV[1])) + 60000) end
return 1
`;

export interface RateLimits {
  /** Messages per second for the whole bot. */
  globalPerSec: number;
  /** Sustained spacing between two messages to one chat. */
  chatIntervalMs: number;
  /** Messages one chat may receive at once before spacing applies. */
  chatBurst: number;
}

type WithScripts = RedisClient & {
  sendPause(c: string, forMs: number): Promise<number>;
};

interface PendingTake {
  chat: string;
  paced: boolean;
  /** Given by a test; else Redis's time at the flush (a slot is not granted for a moment already past). */
  now?: number;
  resolve: (wait: number) => void;
  reject: (err: Error) => void;
}

/** How long before its slot a send may go (GCRA's tolerance, in milliseconds): a waiting send is woken that early. */
export const SLOT_TOLERANCE_MS = 5;

// One slot per channel (the script reads all three keys): the global limit serializes the channel's sends anyway.
const limitPrefix = (prefix: string, channel: string) => `${prefix}{rl:${channel}}:`;

/** The channel's global limit (the time its next send may go, in Redis's milliseconds). */
export const globalRateKey = (prefix: string, channel: string) => `${limitPrefix(prefix, channel)}global`;

/** The mark of a chat that blocked the bot. */
export const unreachableKey = (prefix: string, channel: string, chat: string) => `${limitPrefix(prefix, channel)}unreachable:${chat}`;

export class SendLimiter {
  private readonly redis: WithScripts;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly channel: string,
    private readonly limits: RateLimits,
  ) {
    if (!('sendPause' in redis)) redis.defineCommand('sendPause', { numberOfKeys: 1, lua: PAUSE });
    this.redis = redis as WithScripts;
  }

  private get globalKey() {
    return globalRateKey(this.prefix, this.channel);
  }

  private keys(chat: string) {
    return { chat: `${limitPrefix(this.prefix, this.channel)}chat:${chat}`, blocked: unreachableKey(this.prefix, this.channel, chat) };
  }

  /** Takes asked for since the last flush: sent as one script call (every reply takes one). */
  private pending: PendingTake[] = [];

  /**
   * Takes a send slot: 0 when the message may go now, the milliseconds to wait
   * otherwise, or -1 when the chat is unreachable. A reply to the respondent's own
   * input (`paced` false) is not held by the per-chat spacing but still uses it up.
   * The takes asked for in one turn of the event loop go to Redis together, in order, at the next.
   */
  take(chat: string, paced: boolean, now?: number): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ chat, paced, ...(now === undefined ? {} : { now }), resolve, reject }) === 1) setImmediate(() => this.flushTakes());
    });
  }

  private flushTakes(): void {
    const batch = this.pending;
    this.pending = [];
    const l = this.limits;
    const keys = [this.globalKey];
    const args: Array<string | number> = [
      1000 / l.globalPerSec,
      // No burst; a send may go a few milliseconds before its slot, so that a waiting send (woken that much early)
      // whose timer fired a little late still meets its slot. Without it each late wake-up pushed every later slot
      // back (29.5/s paced gave 28.4/s). Any second holds at most globalPerSec x (1000 + tolerance) / 1000 + 1
      // sends: 30 at 29/s, with 29.5 ms to spare for the sends' jitter on their way.
      SLOT_TOLERANCE_MS,
      l.chatIntervalMs,
      l.chatBurst,
    ];
    for (const t of batch) {
      const k = this.keys(t.chat);
      keys.push(k.chat, k.blocked);
      args.push(t.now ?? '', t.paced ? '1' : '0');
    }
    TAKE.run(this.redis, keys, args).then(
      (waits) => {
        for (const [i, t] of batch.entries()) t.resolve((waits as number[])[i]!);
      },
      (err: Error) => {
        for (const t of batch) t.reject(err);
      },
    );
  }

  /** Honours a platform "retry after": no paced message goes to this chat for `forMs`. */
  async pause(chat: string, forMs: number): Promise<void> {
    await this.redis.sendPause(this.keys(chat).chat, forMs);
  }

  /** Permanently unreachable (blocked the bot): reminders and audits stop. */
  async markUnreachable(chat: string): Promise<void> {
    await this.redis.set(this.keys(chat).blocked, String(Date.now()));
  }

  async isUnreachable(chat: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(chat).blocked)) === 1;
  }
}
