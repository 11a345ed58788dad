// One Zalo API call with the OA's access token: an invalid or expired token
// is refreshed (at most once across processes) and the call retried once.
// Errors arrive as HTTP 200 with error != 0; the caller maps the code.
import type { AxiosInstance } from 'axios';
import type { ChannelDeps } from '../../src/channels/channel.js';
import { TransientSendError } from '../../src/channels/channel.js';
import { zaloHttp } from './http.js';
import { ZaloTokenRefused, ZaloTokens } from './tokens.js';

/** What a call ended with: Zalo's error code (0 = success), or the tokens refused (sends are stopped). */
export type ZaloAnswer = { code: number; message: string } | { refused: true };

export class ZaloApi {
  private readonly http: AxiosInstance;

  constructor(
    baseUrl: string,
    private readonly tokens: ZaloTokens,
    /** Error codes that mean "token invalid or expired" on this API. */
    private readonly tokenErrors: ReadonlySet<number>,
  ) {
    this.http = zaloHttp(baseUrl);
  }

  /** Throws TransientSendError for what a retry may fix (network, 5xx). */
  async post(path: string, body: unknown): Promise<ZaloAnswer> {
    let token: string;
    try {
      token = await this.tokens.access();
    } catch (err) {
      if (err instanceof ZaloTokenRefused) return { refused: true };
      throw new TransientSendError((err as Error).message);
    }
    for (let attempt = 0; ; attempt++) {
      let res: { status: number; data: { error?: number; message?: string } };
      try {
        res = await this.http.post(path, body, { headers: { access_token: token } });
      } catch (err) {
        throw new TransientSendError(`Zalo ${path}: ${(err as Error).message}`);
      }
      if (res.status >= 500 || res.status === 429) throw new TransientSendError(`Zalo ${path}: HTTP ${res.status}`);
      const code = Number(res.data?.error ?? (res.status === 200 ? 0 : res.status));
      if (!this.tokenErrors.has(code) || attempt > 0) return { code, message: res.data?.message ?? '' };
      try {
        token = await this.tokens.refresh(token);
      } catch (err) {
        if (err instanceof ZaloTokenRefused) return { refused: true };
        throw new TransientSendError((err as Error).message);
      }
    }
  }
}

/** The OA's tokens from the configuration (both the chat channel and ZNS use them); undefined with what is missing. */
export function zaloTokens(d: ChannelDeps, required: ReadonlyArray<keyof ChannelDeps['config']['zalo']>): ZaloTokens | { disabled: string } {
  const z = d.config.zalo;
  const missing = required.filter((k) => !z[k]);
  if (missing.length) return { disabled: `${missing.join(', ')} not set` };
  return new ZaloTokens({
    appId: z.ZALO_APP_ID!,
    appSecret: z.ZALO_APP_SECRET!,
    oaId: z.ZALO_OA_ID!,
    oauthBase: z.ZALO_OAUTH_BASE.replace(/\/+$/, ''),
    initial: { access: z.ZALO_ACCESS_TOKEN!, refresh: z.ZALO_REFRESH_TOKEN! },
    conn: d.conn,
    redis: d.redis,
    prefix: d.prefix,
    encryptionKey: d.encryptionKey,
    log: d.log,
  });
}
