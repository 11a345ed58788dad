// One Telegram Bot API call, as rendered by render.ts and sent by outbound.ts.
// Queued ops are validated by this schema when they are added and when they run.
import { z } from 'zod';

/** Telegram's limit on a message text. */
export const TEXT_LIMIT = 4096;

const keyboard = z.array(z.strictObject({ text: z.string().min(1), data: z.string().min(1).max(64) }));

export const telegramOp = z.discriminatedUnion('m', [
  z.strictObject({
    m: z.literal('send'),
    text: z.string().min(1).max(TEXT_LIMIT),
    keyboard: keyboard.optional(),
    /** Remove the keyboard of the previous question (the respondent typed instead of tapping). */
    clearPrevious: z.boolean().optional(),
  }),
  z.strictObject({
    m: z.literal('edit'),
    messageId: z.number().int(),
    text: z.string().min(1).max(TEXT_LIMIT),
    /** The edit asks the next question in the tapped message (one call per tap, not an edit and a send): it must not be lost. */
    keyboard: keyboard.optional(),
  }),
]);
export type TelegramOp = z.infer<typeof telegramOp>;
