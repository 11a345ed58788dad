// Every job's data is a zod schema: a job is validated when it is added and when it runs.
import { z } from 'zod';

const answerValue = z.union([z.string(), z.number(), z.null()]);

export const completionJob = z.strictObject({
  ref: z.string(),
  flow: z.string(),
  channel: z.enum(['telegram', 'zalo', 'web']),
  /** Pseudonym, computed before the job is queued: raw chat ids never reach MongoDB. */
  respondent: z.string(),
  answers: z.record(z.string(), answerValue),
  startedAt: z.number(),
  completedAt: z.number(),
});
export type CompletionJob = z.infer<typeof completionJob>;

/** One platform call, as rendered by a channel adapter. */
export const telegramOp = z.discriminatedUnion('m', [
  z.strictObject({
    m: z.literal('send'),
    text: z.string().max(4096),
    keyboard: z.array(z.strictObject({ text: z.string(), data: z.string().max(64) })).optional(),
    /** Remove the keyboard of the previous question (the respondent typed instead of tapping). */
    clearPrevious: z.boolean().optional(),
  }),
  z.strictObject({ m: z.literal('edit'), messageId: z.number().int(), text: z.string().max(4096) }),
]);
export type TelegramOp = z.infer<typeof telegramOp>;

export const outboundJob = z.strictObject({
  channel: z.enum(['telegram', 'zalo']),
  chat: z.string(),
  /** A reply to the respondent's own input skips per-chat pacing; bursts we start do not. */
  reply: z.boolean(),
  ops: z.array(telegramOp).min(1),
  /** How many ops were already sent before a retry or delay. */
  done: z.number().int().min(0).default(0),
});
export type OutboundJob = z.infer<typeof outboundJob>;

export const QUEUE = { completion: 'completion', outbound: 'outbound', reminders: 'reminders' } as const;

/** A follow-up of one opened survey: a reminder, or its expiry. Stale-safe: it re-checks state when it runs. */
export const followUpJob = z.strictObject({
  kind: z.enum(['remind', 'expire']),
  channel: z.enum(['telegram', 'zalo', 'web']),
  userKey: z.string(),
  ref: z.string(),
});
export type FollowUpJob = z.infer<typeof followUpJob>;
