// Telegraf's Bot API client with a leaner transport: its JSON calls go through
// httpCall (node's http, keep-alive) instead of node-fetch. Every telegraf
// method, result and TelegramError stays the same; a call costs less than half
// the CPU (a reply is one such call, and under a burst node-fetch was a fifth
// of the service's CPU). A call with a file (none in this service) keeps
// telegraf's own transport.
import { Telegram, TelegramError } from 'telegraf';
import type { Telegram as BotApi, Opts } from 'telegraf/types';
import { type HttpAnswer, httpCall } from '../../src/channels/http-call.js';

type CallOptions = Parameters<Telegram['callApi']>[2];

/** A value telegraf would upload as a file (InputFile, or media holding one): not JSON. */
const holdsFile = (v: unknown): boolean =>
  typeof v === 'object' &&
  v !== null &&
  ('source' in v || ('media' in v && holdsFile((v as { media: unknown }).media)) || (Array.isArray(v) && v.some(holdsFile)));

export class TelegramApiClient extends Telegram {
  /** `<apiRoot>/bot<token>/`: never logged (errors name the method only). */
  private readonly base: string;

  /** `timeoutMs`: a call with no answer by then fails (the socket is dropped). */
  constructor(
    token: string,
    apiRoot: string,
    private readonly timeoutMs: number,
  ) {
    super(token, { apiRoot, webhookReply: false });
    this.base = `${apiRoot.replace(/\/+$/, '')}/bot${token}/`;
  }

  override callApi<M extends keyof BotApi>(method: M, payload: Opts<M>, options?: CallOptions): Promise<ReturnType<BotApi[M]>> {
    if (Object.values(payload as object).some(holdsFile)) return super.callApi(method, payload, options);
    return this.postJson(method, payload, options?.signal as AbortSignal | undefined) as Promise<ReturnType<BotApi[M]>>;
  }

  private async postJson(method: string, payload: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    let answer: HttpAnswer;
    try {
      answer = await httpCall({
        method: 'POST',
        url: this.base + method,
        headers: { 'content-type': 'application/json' },
        // As telegraf: null fields are left out.
        body: JSON.stringify(payload, (_, v) => (v === null ? undefined : v)),
        timeoutMs: this.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw new Error(`Telegram ${method}: ${(err as Error).message}`);
    }
    return resultOf(answer, method, payload);
  }
}

/** The Bot API's answer as telegraf reads it: the result, or a TelegramError (any 5xx is one, whatever its body). */
function resultOf(answer: HttpAnswer, method: string, payload: unknown): unknown {
  const { status } = answer;
  if (status >= 500) throw new TelegramError({ error_code: status, description: answer.statusText }, { method, payload });
  let data: { ok: boolean; result?: unknown; error_code: number; description: string };
  try {
    data = JSON.parse(answer.body);
  } catch {
    throw new Error(`Telegram ${method}: HTTP ${status} without a JSON answer`);
  }
  if (!data.ok) throw new TelegramError(data, { method, payload });
  return data.result;
}
