// Every job's data is a zod schema: a job is validated when it is added and when it runs.
import { z } from 'zod';
import { CHANNEL_NAMES } from '../channels/registry.js';

const answerValue = z.union([z.string(), z.number(), z.null()]);
const channel = z.enum(CHANNEL_NAMES);

export const completionJob = z.strictObject({
  ref: z.string(),
  flow: z.string(),
  channel,
  /** Pseudonym, computed before the job is queued: raw chat ids never reach MongoDB in clear. */
  respondent: z.string(),
  /** The encrypted contact for post-audit (see Response.contactEnc). */
  contact: z.string().optional(),
  answers: z.record(z.string(), answerValue),
  lang: z
    .string()
    .regex(/^[a-z]{2,3}$/)
    .optional(),
  startedAt: z.number(),
  completedAt: z.number(),
});
export type CompletionJob = z.infer<typeof completionJob>;

/** Sends to one chat. The ops are the owning channel's, validated by its `opSchema` (the core treats them as opaque). */
export const outboundJob = z.strictObject({
  channel,
  chat: z.string(),
  /** A reply to the respondent's own input skips per-chat pacing; bursts we start do not. */
  reply: z.boolean(),
  ops: z.array(z.unknown()).min(1),
  /** How many ops were already sent before a retry or delay. */
  done: z.number().int().min(0).default(0),
  /** What the send is about: when the platform's window is closed, a template to the invitation's phone may stand in. */
  about: z.strictObject({ ref: z.string(), purpose: z.enum(['reminder', 'verification']) }).optional(),
  /** A reply job of the same chat that must be done first (replies keep their order). */
  after: z.string().optional(),
});
export type OutboundJob = z.infer<typeof outboundJob>;

export const QUEUE = { completion: 'completion', outbound: 'outbound', reminders: 'reminders' } as const;

/** A follow-up of one opened survey: a reminder, or its expiry. Stale-safe: it re-checks state when it runs. */
export const followUpJob = z.strictObject({
  kind: z.enum(['remind', 'expire']),
  channel,
  userKey: z.string(),
  ref: z.string(),
});
export type FollowUpJob = z.infer<typeof followUpJob>;

/** The campaign's ZNS templates the service sends (campaign `zns`). */
export const ZNS_TEMPLATES = ['invitation', 'reminder', 'verification'] as const;
export type ZnsTemplateName = (typeof ZNS_TEMPLATES)[number];

/**
 * A ZNS message of an invitation: the invitation to a survey never opened, a
 * reminder when the chat's window is closed, or Zalo's delivery receipt of one.
 */
export const znsJob = z.strictObject({
  ref: z.string().optional(),
  template: z.enum(ZNS_TEMPLATES).optional(),
  trackingId: z.string().max(48).optional(),
});
export type ZnsJob = z.infer<typeof znsJob>;

/** A step of one sampled ballot's verification: ask it, remind, or give up (then the call list). */
export const AUDIT_STEPS = ['audit-ask', 'audit-remind', 'audit-timeout'] as const;
export const auditStepJob = z.strictObject({ item: z.string() });

/** A survey was started from an invitation (recorded in MongoDB by a job, never on the webhook path). */
export const opening = z.strictObject({ ref: z.string(), channel, userKey: z.string(), at: z.number() });
export type Opening = z.infer<typeof opening>;
/** The openings of a moment, queued together (see ./opened-batches.ts); a single one is how jobs were queued before. */
export const openedJob = z.union([z.strictObject({ openings: z.array(opening).min(1) }), opening]);
export type OpenedJob = z.infer<typeof openedJob>;
/** The openings a job carries. */
export const openingsOf = (job: OpenedJob): Opening[] => ('openings' in job ? job.openings : [job]);
