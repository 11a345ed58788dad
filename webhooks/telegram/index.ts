// The Telegram channel: POST /webhooks/telegram.
import type { Redis } from 'ioredis';
import type { ChannelAdapter } from '../../src/channels/channel.js';
import { safeEqual } from '../../src/crypto.js';
import { HttpError } from '../../src/http/errors.js';
import type { TelegramOp } from '../../src/queues/jobs.js';
import { toInboundEvent, updateSchema } from './inbound.js';
import { createTelegramClient, TelegramSender } from './outbound.js';
import { renderTelegram } from './render.js';

export interface TelegramChannelOptions {
  token: string;
  webhookSecret: string;
  apiRoot: string;
  redis: Redis;
  prefix: string;
}

export function telegramChannel(o: TelegramChannelOptions): ChannelAdapter<TelegramOp> {
  const sender = new TelegramSender(createTelegramClient(o.token, o.apiRoot), o.redis, o.prefix);
  return {
    name: 'telegram',
    render: renderTelegram,
    send: (chat, op) => sender.send(chat, op),
    // Marking the answered question does not hold back the next question.
    concurrent: (op) => op.m === 'edit',
    inbound: {
      // The secret is checked before the body is even read.
      checkHeaders(headers) {
        const got = headers['x-telegram-bot-api-secret-token'];
        if (typeof got !== 'string' || !safeEqual(got, o.webhookSecret)) {
          throw new HttpError(401, 'bad_secret', 'X-Telegram-Bot-Api-Secret-Token does not match');
        }
      },
      parse(raw) {
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new HttpError(400, 'bad_json', 'request body is not valid JSON');
        }
        const parsed = updateSchema.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new HttpError(400, 'bad_update', `not a Telegram update: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim());
        }
        const ev = toInboundEvent(parsed.data);
        const cq = parsed.data.callback_query;
        // Answering the tap in the webhook response stops the client's spinner without another HTTP call.
        return { events: ev ? [ev] : [], ...(cq ? { answer: { method: 'answerCallbackQuery', callback_query_id: cq.id } } : {}) };
      },
    },
  };
}
