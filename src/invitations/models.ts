import { type Connection, type InferSchemaType, Schema } from 'mongoose';

const campaignSchema = new Schema(
  {
    _id: String,
    /** The validated campaign data (campaigns/*.yaml, see campaign.ts). */
    data: { type: Schema.Types.Mixed, required: true },
    active: { type: Boolean, default: true },
    updatedAt: Date,
  },
  { versionKey: false },
);

export const INVITATION_STATUSES = ['created', 'opened', 'completed', 'expired', 'cancelled'] as const;

export const INVITATION_KINDS = ['citizen', 'agency'] as const;

/** Invitations still holding a way to reach someone (a phone, an agency addressee): what a purge or a re-encryption rewrites. */
export const WITH_CONTACTS = { $or: [{ phoneEnc: { $exists: true } }, { addresseeEnc: { $exists: true } }] };

const invitationSchema = new Schema(
  {
    /** A citizen's case (the slip), or an agency's opinion ballot (the letter). */
    kind: { type: String, enum: INVITATION_KINDS, default: 'citizen' },
    campaign: { type: String, required: true },
    /** The police unit the answers are about: the one that handled the case, or the one the agency assesses. */
    unit: { type: String, required: true },
    unitName: String,
    /** The field of the case; agency ballots have none. */
    field: String,
    procedure: String,
    procedureCode: String,
    /** How the case was submitted: direct, online, postal. */
    submittedVia: String,
    /** The day the result was handed back (YYYY-MM-DD, the campaign's time zone). */
    handedBackOn: String,
    /** For a case, its code; for an agency ballot, "CQ-<agency>[-<n>]". */
    caseCode: { type: String, required: true },
    respondentType: { type: String, enum: ['citizen', 'organization'] },
    agency: String,
    /** AES-256-GCM ciphertext of the named respondent of an agency ballot. */
    addresseeEnc: String,
    /** What the flow's texts are filled with ({unitName}, {periodFrom}, ...), fixed at creation. */
    ctx: Schema.Types.Mixed,
    /** AES-256-GCM ciphertext of the phone number (for ZNS and post-audit), never the number itself. */
    phoneEnc: String,
    code: { type: String, required: true, unique: true },
    token: { type: String, required: true, unique: true },
    flow: { type: String, required: true },
    status: { type: String, enum: INVITATION_STATUSES, default: 'created' },
    /** Respondent pseudonym of the chat that opened it. */
    openedBy: String,
    createdBy: String,
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    openedAt: Date,
    completedAt: Date,
    cancelledAt: Date,
    /** ZNS invitation to the phone: sent (or why not), and Zalo's delivery receipt. */
    znsSentAt: Date,
    znsProblem: String,
    znsDeliveredAt: Date,
  },
  { versionKey: false },
);
// One invitation per case of a unit and campaign (case codes are unique within a unit): the unique index makes concurrent creation safe.
invitationSchema.index({ campaign: 1, unit: 1, caseCode: 1 }, { unique: true });
invitationSchema.index({ unit: 1, createdAt: -1 });
invitationSchema.index({ campaign: 1, kind: 1, agency: 1 });
/** The expiry sweep (see expireDue). */
invitationSchema.index({ status: 1, expiresAt: 1 });

const apiKeySchema = new Schema(
  {
    _id: String,
    /** sha256 of the secret part; the key itself is shown once and never stored. */
    hash: { type: String, required: true },
    role: { type: String, enum: ['officer', 'pv01', 'admin'], required: true },
    unit: String,
    /** An officer key that also covers the units under its unit (district leaders and their communes). */
    subUnits: Boolean,
    label: String,
    createdAt: Date,
    revokedAt: Date,
  },
  { versionKey: false },
);

/** Append-only: the code only ever inserts into it. */
const auditLogSchema = new Schema(
  { at: { type: Date, required: true }, actor: String, role: String, action: String, target: String, details: Schema.Types.Mixed },
  { versionKey: false },
);
auditLogSchema.index({ at: -1 });

/**
 * Case invitations created and opened, per unit and field, by the day of their
 * creation (in the campaign's time zone) at three spans like the report
 * counters: the day, its month, the campaign (day '' then). Table A of Mẫu 01
 * reads these, not the invitations (see ./counts.ts).
 */
const invitationCountSchema = new Schema(
  {
    _id: String,
    campaign: String,
    unit: String,
    field: String,
    day: String,
    span: String,
    created: { type: Number, default: 0 },
    opened: { type: Number, default: 0 },
    /** Ballots invalidated by post-audit, on their completion day. */
    invalidated: { type: Number, default: 0 },
  },
  { versionKey: false },
);
invitationCountSchema.index({ campaign: 1, day: 1 });

export type InvitationDoc = InferSchemaType<typeof invitationSchema> & { _id: unknown };

export function bindInvitationModels(conn: Connection) {
  return {
    Campaign: conn.model('Campaign', campaignSchema, 'campaigns'),
    Invitation: conn.model('Invitation', invitationSchema, 'invitations'),
    InvitationCount: conn.model('InvitationCount', invitationCountSchema, 'invitation_counts'),
    /** The campaign's rows (span 'all'), apart: a whole-campaign report reads them without scanning the day rows. */
    InvitationCountTotal: conn.model('InvitationCountTotal', invitationCountSchema, 'invitation_count_totals'),
    ApiKey: conn.model('ApiKey', apiKeySchema, 'api_keys'),
    AuditLog: conn.model('AuditLog', auditLogSchema, 'audit_log'),
  };
}
