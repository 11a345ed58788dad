// The Telegram channel: POST /webhooks/telegram.
import express, { type Router } from 'express';
import type { Redis } from 'ioredis';
import type { ChannelAdapter } from '../../src/channels/channel.js';
import type { InboundEvent } from '../../src/conversations/runner.js';
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
  /** The webhook answers within this time or says 503 so Telegram retries. */
  handleTimeoutMs?: number;
}

export function telegramChannel(o: TelegramChannelOptions): ChannelAdapter<TelegramOp> {
  const sender = new TelegramSender(createTelegramClient(o.token, o.apiRoot), o.redis, o.prefix);
  const timeoutMs = o.handleTimeoutMs ?? 10_000;

  return {
    name: 'telegram',
    render: renderTelegram,
    send: (chat, op) => sender.send(chat, op),
    router(handle: (ev: InboundEvent) => Promise<unknown>): Router {
      const router = express.Router();
      // The secret is checked before the body is even parsed.
      router.post(
        '/',
        (req, _res, next) => {
          const got = req.get('x-telegram-bot-api-secret-token') ?? '';
          next(safeEqual(got, o.webhookSecret) ? undefined : new HttpError(401, 'bad_secret', 'X-Telegram-Bot-Api-Secret-Token does not match'));
        },
        express.json({ limit: '1mb', type: () => true }),
        async (req, res) => {
          const parsed = updateSchema.safeParse(req.body);
          if (!parsed.success)
            throw new HttpError(
              400,
              'bad_update',
              `not a Telegram update: ${parsed.error.issues[0]?.path.join('.') || 'body'} ${parsed.error.issues[0]?.message ?? ''}`.trim(),
            );
          const ev = toInboundEvent(parsed.data);
          if (ev) await withTimeout(handle(ev), timeoutMs);
          const cq = parsed.data.callback_query;
          // Answering the tap in the webhook response stops the client's spinner without another HTTP call.
          res.json(cq ? { method: 'answerCallbackQuery', callback_query_id: cq.id } : {});
        },
      );
      return router;
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, 'timeout', `not processed within ${ms} ms; Telegram will retry`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
