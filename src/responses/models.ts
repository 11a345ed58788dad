import { type Connection, type InferSchemaType, Schema } from 'mongoose';

const answerSchema = new Schema({ q: { type: String, required: true }, value: Schema.Types.Mixed, label: String }, { _id: false });

const responseSchema = new Schema(
  {
    invitationId: { type: String, required: true, unique: true },
    campaign: { type: String, required: true },
    kind: { type: String, default: 'citizen' },
    unit: { type: String, required: true },
    /** The case's field; agency ballots have none. */
    field: String,
    procedure: String,
    procedureCode: String,
    submittedVia: String,
    agency: String,
    /** The language the respondent answered in (flow texts differ, values do not). */
    lang: String,
    caseCode: String,
    channel: { type: String, required: true },
    /** HMAC of the channel user id: never the raw id. */
    respondent: { type: String, required: true },
    flow: { type: String, required: true },
    flowVersion: { type: Number, required: true },
    answers: { type: [answerSchema], default: [] },
    startedAt: { type: Date, required: true },
    completedAt: { type: Date, required: true },
    durationSec: Number,
    /** The day of completion in the campaign's time zone (YYYY-MM-DD): counters and reports are per day. */
    day: String,
    /** citizen / organization (the answer), or agency-<level> for an agency ballot. */
    rtype: String,
    status: { type: String, enum: ['valid', 'invalidated'], default: 'valid' },
    /**
     * Whether a free-text question was answered: the reports' comments select
     * on it by equality, which FerretDB hands to PostgreSQL with the limit
     * (a filter on the answers array is evaluated ballot by ballot).
     */
    commented: Boolean,
    invalidReason: String,
    /** The audit whose verification invalidated it. */
    invalidatedBy: String,
    /** When the last post-audit verdict invalidated it or put it back: the fix of table A's counts names it (see counts.ts). */
    verdictAt: Date,
    /**
     * AES-256-GCM ciphertext of {channel, userKey}: how to reach the respondent
     * for post-audit. Only the audits module decrypts it; purged after the
     * campaign's last deadline plus its retention period.
     */
    contactEnc: String,
    /** Set once this response's counters were added (see responses/complete.ts). */
    countersApplied: { type: Boolean, default: false },
    /**
     * While a claim on its counters is being written (a completion's addition, a verdict's change): a mark left
     * behind means the process died in between (see repairPendingCounters). Two fields, set and unset together (see
     * countersPending): the flag is what the repair looks for (an equality FerretDB hands to PostgreSQL; a date range
     * scanned every ballot, every 10 s), the time is how old the mark is and names the claim.
     */
    countersPending: Boolean,
    countersPendingAt: Date,
  },
  { versionKey: false },
);
responseSchema.index({ campaign: 1, unit: 1, field: 1 });
responseSchema.index({ campaign: 1, commented: 1, status: 1, kind: 1, unit: 1 });
responseSchema.index({ countersPending: 1 }, { sparse: true });

/** Report counters: one document per (campaign, unit, field, flow version, span, respondent type, procedure, question, answer value). */
const counterSchema = new Schema(
  {
    _id: String,
    campaign: String,
    unit: String,
    /** '' for agency ballots. */
    field: String,
    /** The flow version the ballots answered ("citizen-satisfaction@2"): reports read each with its own questions. */
    flow: String,
    /** YYYY-MM-DD in the campaign's time zone, YYYY-MM for a month's row, '' for the campaign's (see `span`). */
    day: String,
    /** day, month or all (responses/complete.ts CounterSpan); rows written before spans existed are days. */
    span: String,
    /** Respondent type (citizen / organization; '' when not asked) and procedure code ('' when none or free text). */
    rtype: String,
    proc: String,
    q: String,
    value: String,
    n: { type: Number, default: 0 },
  },
  { versionKey: false },
);
counterSchema.index({ campaign: 1, unit: 1, day: 1 });
counterSchema.index({ campaign: 1, day: 1 });

/**
 * The comments reports show without a date range: the free-text answers of
 * the first valid ballots with one, at most COMMENT_LIMIT per unit and per
 * campaign (scope ''), copied at completion (see ./comment-samples.ts).
 */
const commentSampleSchema = new Schema(
  {
    /** `<invitationId>|<scope>` */
    _id: String,
    invitationId: String,
    campaign: String,
    /** citizen or agency */
    kind: String,
    /** The unit, or '' for the campaign's sample. */
    scope: String,
    field: String,
    day: String,
    rtype: String,
    flow: String,
    flowVersion: Number,
    texts: { type: [{ q: String, text: String }], _id: false },
  },
  { versionKey: false },
);
commentSampleSchema.index({ campaign: 1, kind: 1, scope: 1 });

/** How many ballots each comment sample holds (`<campaign>|<kind>|<scope>`). */
const commentSlotSchema = new Schema({ _id: String, campaign: String, n: { type: Number, default: 0 } }, { versionKey: false });

/** Content hash of every flow version a response references: an edited version is refused at start-up. */
const flowVersionSchema = new Schema({ _id: String, hash: String, firstUsedAt: Date }, { versionKey: false });

export type ResponseDoc = InferSchemaType<typeof responseSchema>;

export function bindResponseModels(conn: Connection) {
  return {
    Response: conn.model('Response', responseSchema, 'responses'),
    Counter: conn.model('Counter', counterSchema, 'counters'),
    /** The campaign-span rows (day ''), apart: bounded by units x fields x answers, so a whole-campaign report never scans the day rows. */
    CounterTotal: conn.model('CounterTotal', counterSchema, 'counter_totals'),
    FlowVersion: conn.model('FlowVersion', flowVersionSchema, 'flow_versions'),
    CommentSample: conn.model('CommentSample', commentSampleSchema, 'comment_samples'),
    CommentSlot: conn.model('CommentSlot', commentSlotSchema, 'comment_slots'),
  };
}
