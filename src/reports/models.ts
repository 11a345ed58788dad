import { type Connection, Schema } from 'mongoose';

/** A ballot PV01 must see at once (harassment, a payment outside the rules, overall 1): never who answered. */
const alertSchema = new Schema(
  {
    invitationId: { type: String, required: true, unique: true },
    campaign: { type: String, required: true },
    unit: String,
    field: String,
    day: String,
    caseCode: String,
    reasons: { type: [String], default: [] },
    at: { type: Date, required: true },
    handledAt: Date,
    handledBy: String,
    note: String,
  },
  { versionKey: false },
);
alertSchema.index({ campaign: 1, handledAt: 1 });

/** PV01 sent a unit's report (Mẫu 01 or 02): when, against the deadline. */
const submissionSchema = new Schema(
  {
    campaign: { type: String, required: true },
    form: { type: String, required: true },
    unit: String,
    at: { type: Date, required: true },
    deadline: String,
    late: Boolean,
    by: String,
  },
  { versionKey: false },
);
submissionSchema.index({ campaign: 1, form: 1, unit: 1 });

/** The published results of a campaign (the public page shows exactly this snapshot). */
const publicationSchema = new Schema({ _id: String, at: { type: Date, required: true }, by: String, rows: Schema.Types.Mixed }, { versionKey: false });

export function bindReportModels(conn: Connection) {
  return {
    Alert: conn.model('Alert', alertSchema, 'alerts'),
    ReportSubmission: conn.model('ReportSubmission', submissionSchema, 'report_submissions'),
    Publication: conn.model('Publication', publicationSchema, 'publications'),
  };
}
