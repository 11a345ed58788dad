// Telegram operations over telegraf's API client, with Telegram's errors mapped
// to what the outbound worker does about them.
import { type Telegram, TelegramError } from 'telegraf';
import { type SendResult, TransientSendError } from '../../src/channels/channel.js';
import type { RedisClient } from '../../src/redis.js';
import { TelegramApiClient } from './api-client.js';
import type { TelegramOp } from './ops.js';

export class TelegramSender {
  constructor(
    private readonly telegram: Telegram,
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** The last message with a live keyboard in a chat, so a typed answer can retire it. */
  private keyboardKey(chat: string) {
    return `${this.prefix}tg:kb:${chat}`;
  }

  private call<T>(method: string, payload: Record<string, unknown>): Promise<T> {
    return this.telegram.callApi(method as never, payload as never) as Promise<T>;
  }

  async send(chat: string, op: TelegramOp): Promise<SendResult> {
    try {
      if (op.m === 'edit') return await this.edit(chat, op);
      const sent = await this.call<{ message_id: number }>('sendMessage', { chat_id: chat, text: op.text, ...markup(op.keyboard) });
      const key = this.keyboardKey(chat);
      const previous = op.keyboard
        ? await this.redis.set(key, String(sent.message_id), 'EX', 14 * 86_400, 'GET')
        : op.clearPrevious
          ? await this.redis.getdel(key)
          : null;
      if (op.clearPrevious && previous && Number(previous) !== sent.message_id) {
        // Best effort: a keyboard left behind is only cosmetic (taps on it are answered as stale, once after the end).
        await this.call('editMessageReplyMarkup', { chat_id: chat, message_id: Number(previous), reply_markup: { inline_keyboard: [] } }).catch(() => {});
      }
      return { ok: true };
    } catch (err) {
      return mapTelegramError(err, op);
    }
  }

  /** An edit that asks the next question falls back to a new message when the tapped one cannot be edited (deleted, too old). */
  private async edit(chat: string, op: Extract<TelegramOp, { m: 'edit' }>): Promise<SendResult> {
    try {
      await this.call('editMessageText', { chat_id: chat, message_id: op.messageId, text: op.text, ...markup(op.keyboard) });
      return { ok: true };
    } catch (err) {
      // The same edit already applied (a retry after a lost answer): done.
      if (err instanceof TelegramError && err.code === 400 && /message is not modified/i.test(err.description)) return { ok: true };
      if (err instanceof TelegramError && err.code === 400 && op.keyboard && !/chat not found|user is deactivated/i.test(err.description)) {
        return this.send(chat, { m: 'send', text: op.text, keyboard: op.keyboard });
      }
      throw err;
    }
  }
}

const markup = (keyboard: Array<{ text: string; data: string }> | undefined) =>
  keyboard ? { reply_markup: { inline_keyboard: keyboard.map((b) => [{ text: b.text, callback_data: b.data }]) } } : {};

/** Telegram's answers in our terms. Throws TransientSendError for what a retry may fix. */
export function mapTelegramError(err: unknown, op: TelegramOp): SendResult {
  if (err instanceof TelegramError) {
    const { code, description } = err;
    if (code === 429) return { ok: false, kind: 'retry_after', ms: (err.parameters?.retry_after ?? 5) * 1000 };
    if (code === 403) return { ok: false, kind: 'unreachable', reason: description };
    if (code === 400 && /chat not found|user is deactivated/i.test(description)) return { ok: false, kind: 'unreachable', reason: description };
    if (code === 400 && op.m === 'edit') return { ok: false, kind: 'skip', reason: description };
    if (code >= 500) throw new TransientSendError(`Telegram ${code}: ${description}`);
    return { ok: false, kind: 'skip', reason: `Telegram ${code}: ${description}` };
  }
  // Network failures, timeouts: telegraf already redacts the token from these messages.
  throw new TransientSendError(err instanceof Error ? err.message : String(err));
}

/** `timeoutMs`: a Bot API call with no answer by then fails (and a send is retried from the outbound queue). */
export function createTelegramClient(token: string, apiRoot: string, timeoutMs: number): Telegram {
  return new TelegramApiClient(token, apiRoot, timeoutMs);
}
