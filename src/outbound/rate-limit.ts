// Send pacing in one Redis round trip: a global limit for the bot and a
// per-chat limit with a small burst (GCRA: each key holds the theoretical
// arrival time of the next message). A blocked chat is refused outright.
import type { RedisClient } from '../redis.js';

const TAKE = `
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local now = tonumber(ARGV[1])
local function wait(key, interval, burst)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local w = tat - now - interval * (burst - 1)
  if w < 0 then w = 0 end
  return w, tat
end
local gw, gtat = wait(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
local cw, ctat = 0, now
if ARGV[6] == '1' then cw, ctat = wait(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5])) end
if gw > 0 or cw > 0 then return math.ceil(math.max(gw, cw)) end
redis.call('SET', KEYS[1], gtat + tonumber(ARGV[2]), 'PX', 60000)
local chatTat = tonumber(redis.call('GET', KEYS[2]) or '0')
if chatTat < now then chatTat = now end
redis.call('SET', KEYS[2], chatTat + tonumber(ARGV[4]), 'PX', 3600000)
return 0
`;

const PAUSE = `
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = tonumber(ARGV[1])
if tat < until_ then redis.call('SET', KEYS[1], until_, 'PX', math.max(1, until_ - tonumber(ARGV[2])) + 60000) end
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
  sendTake(g: string, c: string, b: string, now: number, gi: number, gb: number, ci: number, cb: number, paced: string): Promise<number>;
  sendPause(c: string, until: number, now: number): Promise<number>;
};

// One slot per channel (the script reads all three keys): the global limit serializes the channel's sends anyway.
const limitPrefix = (prefix: string, channel: string) => `${prefix}{rl:${channel}}:`;

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
    if (!('sendTake' in redis)) {
      redis.defineCommand('sendTake', { numberOfKeys: 3, lua: TAKE });
      redis.defineCommand('sendPause', { numberOfKeys: 1, lua: PAUSE });
    }
    this.redis = redis as WithScripts;
  }

  private keys(chat: string) {
    const p = limitPrefix(this.prefix, this.channel);
    return { global: `${p}global`, chat: `${p}chat:${chat}`, blocked: unreachableKey(this.prefix, this.channel, chat) };
  }

  /**
   * Takes a send slot: 0 when the message may go now, the milliseconds to wait
   * otherwise, or -1 when the chat is unreachable. A reply to the respondent's own
   * input (`paced` false) is not held by the per-chat spacing but still uses it up.
   */
  async take(chat: string, paced: boolean, now = Date.now()): Promise<number> {
    const k = this.keys(chat);
    const l = this.limits;
    return this.redis.sendTake(
      k.global,
      k.chat,
      k.blocked,
      now,
      1000 / l.globalPerSec,
      // No burst beyond what one millisecond holds (the clock's step): at the steady rate no second then holds more than
      // globalPerSec + 1 sends, so the rate can sit just under the platform's (a 30/s limit gets 29.5/s, burst 1).
      Math.max(1, Math.ceil(l.globalPerSec / 1000)),
      l.chatIntervalMs,
      l.chatBurst,
      paced ? '1' : '0',
    );
  }

  /** Honours a platform "retry after": no paced message goes to this chat before then. */
  async pause(chat: string, untilMs: number, now = Date.now()): Promise<void> {
    await this.redis.sendPause(this.keys(chat).chat, untilMs, now);
  }

  /** Permanently unreachable (blocked the bot): reminders and audits stop. */
  async markUnreachable(chat: string): Promise<void> {
    await this.redis.set(this.keys(chat).blocked, String(Date.now()));
  }

  async isUnreachable(chat: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(chat).blocked)) === 1;
  }
}
