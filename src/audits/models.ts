import { type Connection, type InferSchemaType, Schema } from 'mongoose';

export const AUDIT_KINDS = ['citizen', 'agency'] as const;
/** What a verification found (METHOD.md section 5); `blocked`: the chat refused our message. */
export const OUTCOMES = ['confirmed', 'differs', 'denied', 'unreachable', 'blocked'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One post-audit draw: its parameters and seed, so the same inputs draw the same sample again. */
const auditSchema = new Schema(
  {
    campaign: { type: String, required: true },
    kind: { type: String, enum: AUDIT_KINDS, required: true },
    units: { type: [String], default: [] },
    rate: { type: Number, required: true },
    minimum: { type: Number, required: true },
    seed: { type: String, required: true },
    riskWeighting: { type: Boolean, default: false },
    /** How the draw weighed ballots, in words. */
    weighting: String,
    /** The campaign's deadline for this kind of audit (YYYY-MM-DD), if it has one. */
    deadline: String,
    status: { type: String, enum: ['open', 'closed'], default: 'open' },
    createdBy: String,
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const ITEM_STATES = ['pending', 'asked', 'reminded', 'call', 'done'] as const;

/** One sampled ballot and its verification. The respondent's contact stays on the response, encrypted. */
const auditItemSchema = new Schema(
  {
    audit: { type: String, required: true },
    /** The ballot: its invitation id. */
    invitationId: { type: String, required: true },
    unit: { type: String, required: true },
    field: String,
    channel: String,
    /** The ballot's overall answer, compared with the one given again. */
    overallBefore: Schema.Types.Mixed,
    risk: { type: [String], default: [] },
    weight: { type: Number, default: 1 },
    state: { type: String, enum: ITEM_STATES, default: 'pending' },
    outcome: { type: String, enum: OUTCOMES },
    /** How the outcome was reached: the chat, a phone call, or PV01's override. */
    outcomeBy: { type: String, enum: ['chat', 'call', 'override'] },
    note: String,
    answers: Schema.Types.Mixed,
    askedAt: Date,
    remindedAt: Date,
    znsAt: Date,
    closedAt: Date,
  },
  { versionKey: false },
);
auditItemSchema.index({ audit: 1, invitationId: 1 }, { unique: true });
auditItemSchema.index({ audit: 1, unit: 1 });

export type AuditDoc = InferSchemaType<typeof auditSchema> & { _id: unknown };
export type AuditItemDoc = InferSchemaType<typeof auditItemSchema> & { _id: unknown };

export function bindAuditModels(conn: Connection) {
  return {
    Audit: conn.model('Audit', auditSchema, 'audits'),
    AuditItem: conn.model('AuditItem', auditItemSchema, 'audit_items'),
  };
}
