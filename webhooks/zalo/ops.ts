// One Zalo OA send, as rendered by render.ts and sent by outbound.ts. Queued
// ops are validated by this schema when they are added and when they run.
import { z } from 'zod';

/** Zalo's limit on a consultation message text (CHANNELS.md). */
export const TEXT_LIMIT = 2000;
/** Button titles (CHANNELS.md says at most 100 characters: "check exact limits"; kept here, in one place). */
export const TITLE_LIMIT = 100;
/** Buttons on one template message (a 5-level scale, "back" and "stop"). */
export const BUTTONS_LIMIT = 7;

export const zaloOp = z.strictObject({
  text: z.string().min(1).max(TEXT_LIMIT),
  /** oa.query.hide buttons: a tap comes back as a user_send_text whose text is the payload. */
  buttons: z
    .array(z.strictObject({ title: z.string().min(1).max(TITLE_LIMIT), payload: z.string().min(1).max(100) }))
    .max(BUTTONS_LIMIT)
    .optional(),
});
export type ZaloOp = z.infer<typeof zaloOp>;
