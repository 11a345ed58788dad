// Telegraf's Bot API client with a leaner transport: its JSON calls go over
// node's http(s) with a keep-alive agent instead of node-fetch. Every telegraf
// method, result and TelegramError stays the same; a call costs less than half
// the CPU (bench/README: a reply is one such call, and under a burst that call
// was a fifth of the service's CPU). A call with a file (none in this service)
// keeps telegraf's own transport.
import { type Agent, Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Telegram, TelegramError } from 'telegraf';
import type { Telegram as BotApi, Opts } from 'telegraf/types';

type CallOptions = Parameters<Telegram['callApi']>[2];

/** A value telegraf would upload as a file (InputFile, or media holding one): not JSON. */
const holdsFile = (v: unknown): boolean =>
  typeof v === 'object' &&
  v !== null &&
  ('source' in v || ('media' in v && holdsFile((v as { media: unknown }).media)) || (Array.isArray(v) && v.some(holdsFile)));

export class TelegramApiClient extends Telegram {
  private readonly agent: Agent;
  private readonly post: typeof httpRequest;
  /** `<apiRoot>/bot<token>/`: never logged (errors name the method only). */
  private readonly base: string;

  /** `timeoutMs`: a call with no answer by then fails (the socket is dropped). */
  constructor(
    token: string,
    apiRoot: string,
    private readonly timeoutMs: number,
  ) {
    super(token, { apiRoot, webhookReply: false });
    const secure = apiRoot.startsWith('https:');
    this.agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.post = secure ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.base = `${apiRoot.replace(/\/+$/, '')}/bot${token}/`;
  }

  override callApi<M extends keyof BotApi>(method: M, payload: Opts<M>, options?: CallOptions): Promise<ReturnType<BotApi[M]>> {
    if (Object.values(payload as object).some(holdsFile)) return super.callApi(method, payload, options);
    return this.postJson(method, payload, options?.signal as AbortSignal | undefined) as Promise<ReturnType<BotApi[M]>>;
  }

  private postJson(method: string, payload: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    // As telegraf: null fields are left out.
    const body = JSON.stringify(payload, (_, v) => (v === null ? undefined : v));
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(new Error(`Telegram ${method}: ${err.message}`));
      const req = this.post(
        this.base + method,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () => {
            try {
              resolve(resultOf(res, Buffer.concat(chunks).toString('utf8'), method, payload));
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', fail);
      req.end(body);
    });
  }
}

/** The Bot API's answer as telegraf reads it: the result, or a TelegramError (any 5xx is one, whatever its body). */
function resultOf(res: IncomingMessage, text: string, method: string, payload: unknown): unknown {
  const status = res.statusCode ?? 0;
  if (status >= 500) throw new TelegramError({ error_code: status, description: res.statusMessage ?? '' }, { method, payload });
  let data: { ok: boolean; result?: unknown; error_code: number; description: string };
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`Telegram ${method}: HTTP ${status} without a JSON answer`);
  }
  if (!data.ok) throw new TelegramError(data, { method, payload });
  return data.result;
}
