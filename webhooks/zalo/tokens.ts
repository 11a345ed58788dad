// Zalo OA tokens. The access token lives 25 h; the refresh token is
// single-use: every refresh returns a new pair and kills the old refresh
// token. So a refresh runs under a Redis lock (two processes never refresh at
// once), the new pair is stored in MongoDB (encrypted) before it is used, and a
// process that finds a newer pair there uses it instead of refreshing again. A
// refresh token Zalo refuses stops Zalo sends with one clear error, not a retry storm.

import { type Connection, type Model, Schema } from 'mongoose';
import { decrypt, encrypt } from '../../src/crypto.js';
import type { Logger } from '../../src/log.js';
import type { RedisClient } from '../../src/redis.js';
import { zaloHttp } from './http.js';

/** Zalo's OAuth server (the refresh of the OA's tokens). */
const oauthHttp = zaloHttp();

const tokenSchema = new Schema(
  {
    _id: String,
    /** AES-256-GCM of JSON {access, refresh}. */
    sealed: { type: String, required: true },
    /** Increases with every refresh: a reader knows a pair is newer than the one it holds. */
    generation: { type: Number, required: true },
    refreshedAt: Date,
    /** Set when Zalo refused the refresh token: sends stop until an operator provides new tokens. */
    refused: String,
  },
  { versionKey: false },
);

interface TokenDoc {
  _id: string;
  sealed: string;
  generation: number;
  refreshedAt?: Date;
  refused?: string;
}

export class ZaloTokenRefused extends Error {
  override name = 'ZaloTokenRefused';
}

interface Pair {
  access: string;
  refresh: string;
  generation: number;
}

export interface TokenOptions {
  appId: string;
  appSecret: string;
  oaId: string;
  oauthBase: string;
  initial: { access: string; refresh: string };
  conn: Connection;
  redis: RedisClient;
  prefix: string;
  encryptionKey: Buffer;
  log: Logger;
}

export class ZaloTokens {
  private current?: Pair;
  private refusal?: string;
  private refreshing?: Promise<string>;
  private readonly Token: Model<TokenDoc>;

  constructor(private readonly o: TokenOptions) {
    this.Token = (o.conn.models.ZaloToken as Model<TokenDoc> | undefined) ?? o.conn.model<TokenDoc>('ZaloToken', tokenSchema, 'zalo_tokens');
  }

  private async load(): Promise<Pair | undefined> {
    const doc = await this.Token.findById(this.o.oaId).lean();
    if (!doc) return undefined;
    this.refusal = doc.refused ?? undefined;
    const { access, refresh } = JSON.parse(decrypt(this.o.encryptionKey, doc.sealed)) as { access: string; refresh: string };
    return { access, refresh, generation: doc.generation };
  }

  /** The access token to use: the newest stored pair, or the initial one from the environment (then stored). */
  async access(): Promise<string> {
    if (this.refusal) throw new ZaloTokenRefused(this.refusal);
    if (this.current) return this.current.access;
    let pair = await this.load();
    if (this.refusal) throw new ZaloTokenRefused(this.refusal);
    if (!pair) {
      pair = { ...this.o.initial, generation: 1 };
      await this.Token.updateOne(
        { _id: this.o.oaId },
        { $setOnInsert: { sealed: encrypt(this.o.encryptionKey, JSON.stringify(this.o.initial)), generation: 1 } },
        { upsert: true },
      );
      pair = (await this.load()) ?? pair;
    }
    this.current = pair;
    return pair.access;
  }

  /** Why Zalo sends are stopped, if they are. */
  trouble(): string | undefined {
    return this.refusal;
  }

  /** `stale` was refused as invalid or expired: returns a fresh access token (refreshing at most once across processes). */
  refresh(stale: string): Promise<string> {
    this.refreshing ??= this.refreshOnce(stale).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(stale: string): Promise<string> {
    const lockKey = `${this.o.prefix}zalo:refresh-lock:${this.o.oaId}`;
    const owner = `${process.pid}:${Math.random()}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      // Someone may have refreshed already: a newer pair in MongoDB is used as it is.
      const stored = await this.load();
      if (this.refusal) throw new ZaloTokenRefused(this.refusal);
      if (stored && stored.access !== stale) {
        this.current = stored;
        return stored.access;
      }
      if ((await this.o.redis.set(lockKey, owner, 'PX', 30_000, 'NX')) === 'OK') break;
      if (Date.now() > deadline) throw new Error('Zalo token refresh: the lock was held for 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      const stored = await this.load();
      if (stored && stored.access !== stale) {
        this.current = stored;
        return stored.access;
      }
      const refreshToken = stored?.refresh ?? this.o.initial.refresh;
      const res = await oauthHttp.post(
        `${this.o.oauthBase}/v4/oa/access_token`,
        new URLSearchParams({ app_id: this.o.appId, grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
        { headers: { secret_key: this.o.appSecret, 'content-type': 'application/x-www-form-urlencoded' } },
      );
      const data = res.data as { access_token?: string; refresh_token?: string; error?: number; error_name?: string; error_description?: string };
      if (res.status >= 500) throw new Error(`Zalo OAuth answered ${res.status}`);
      if (!data.access_token || !data.refresh_token) {
        const reason = `Zalo refused the refresh token (${data.error ?? res.status} ${data.error_name ?? data.error_description ?? ''}). Zalo sends are stopped: set ZALO_ACCESS_TOKEN and ZALO_REFRESH_TOKEN to a new pair from the OA's API explorer and run npm run admin -- zalo:reset-tokens`;
        await this.Token.updateOne({ _id: this.o.oaId }, { $set: { refused: reason } }, { upsert: true });
        this.refusal = reason;
        this.o.log.error({ oa: this.o.oaId }, reason);
        throw new ZaloTokenRefused(reason);
      }
      const generation = (stored?.generation ?? 1) + 1;
      // Stored before it is used: a crash now cannot lose the only valid refresh token.
      await this.Token.updateOne(
        { _id: this.o.oaId },
        {
          $set: {
            sealed: encrypt(this.o.encryptionKey, JSON.stringify({ access: data.access_token, refresh: data.refresh_token })),
            generation,
            refreshedAt: new Date(),
          },
        },
        { upsert: true },
      );
      this.current = { access: data.access_token, refresh: data.refresh_token, generation };
      this.o.log.info({ oa: this.o.oaId, generation }, 'Zalo access token refreshed');
      return data.access_token;
    } finally {
      await this.o.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, lockKey, owner);
    }
  }
}
