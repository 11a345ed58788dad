// How many case invitations were created and opened, kept as counts (per unit,
// field and creation day, rolled up by month and campaign) so that Mẫu 01's
// table A reads a bounded number of rows however many invitations there are.
// A process adds to them one batch at a time (FerretDB runs an update as
// read-modify-write: two concurrent $inc on one row can lose one); a crash
// between the invitation's write and its count, or two processes racing on
// FerretDB, is repaired by `counters:check --fix` (checkInvitationCounts).
import { dayIn } from '../days.js';
import type { Models } from '../db.js';

export type InvitationEvent = 'created' | 'opened';

/** What an invitation's count rows are made of. */
export interface CountedInvitation {
  campaign: string;
  unit: string;
  field?: string | null;
  createdAt: Date;
}

/** The rows an invitation adds to: its creation day, that month, the campaign. */
export function invitationCountRows(inv: CountedInvitation, timezone: string) {
  const day = dayIn(timezone, inv.createdAt.getTime());
  const field = inv.field ?? '';
  return (
    [
      ['day', day],
      ['month', day.slice(0, 7)],
      ['all', ''],
    ] as const
  ).map(([span, d]) => ({ _id: [inv.campaign, inv.unit, field, d].join('|'), campaign: inv.campaign, unit: inv.unit, field, day: d, span }));
}

type Row = ReturnType<typeof invitationCountRows>[number];

const writers = new WeakMap<Models, { tail: Promise<void>; open?: Map<string, { row: Row; created: number; opened: number }>; done?: Promise<void> }>();

/** Adds one invitation's event to its rows; concurrent calls in this process are merged into one batch. */
export function countInvitation(models: Models, inv: CountedInvitation, event: InvitationEvent, timezone: string): Promise<void> {
  let w = writers.get(models);
  if (!w) {
    w = { tail: Promise.resolve() };
    writers.set(models, w);
  }
  const writer = w;
  if (!writer.open) {
    const batch = new Map<string, { row: Row; created: number; opened: number }>();
    writer.open = batch;
    writer.done = writer.tail.then(async () => {
      if (writer.open === batch) writer.open = undefined;
      await models.InvitationCount.bulkWrite(
        [...batch.values()]
          .sort((a, b) => (a.row._id < b.row._id ? -1 : 1))
          .map(({ row: { _id, ...fields }, created, opened }) => ({
            updateOne: { filter: { _id }, update: { $setOnInsert: fields, $inc: { created, opened } }, upsert: true },
          })),
        { ordered: false },
      );
    });
    writer.tail = writer.done.catch(() => {});
  }
  for (const row of invitationCountRows(inv, timezone)) {
    const cur = writer.open.get(row._id) ?? { row, created: 0, opened: 0 };
    cur[event] += 1;
    writer.open.set(row._id, cur);
  }
  return writer.done!;
}

/** Recounts the campaign's case invitations and compares with the stored counts; `fix` rewrites those that differ. */
export async function checkInvitationCounts(models: Models, campaign: string, timezone: string, fix = false) {
  const expected = new Map<string, { row: Row; created: number; opened: number }>();
  for await (const inv of models.Invitation.find({ campaign, kind: { $ne: 'agency' } }, { campaign: 1, unit: 1, field: 1, createdAt: 1, openedAt: 1 })
    .lean()
    .cursor()) {
    for (const row of invitationCountRows(inv as CountedInvitation, timezone)) {
      const cur = expected.get(row._id) ?? { row, created: 0, opened: 0 };
      cur.created += 1;
      if (inv.openedAt) cur.opened += 1;
      expected.set(row._id, cur);
    }
  }
  const stored = new Map((await models.InvitationCount.find({ campaign }).lean()).map((c) => [String(c._id), c]));
  const mismatches: Array<{ id: string; expected: [number, number]; actual: [number, number] }> = [];
  for (const id of new Set([...expected.keys(), ...stored.keys()])) {
    const e = expected.get(id);
    const a = stored.get(id);
    const want: [number, number] = [e?.created ?? 0, e?.opened ?? 0];
    const got: [number, number] = [a?.created ?? 0, a?.opened ?? 0];
    if (want[0] !== got[0] || want[1] !== got[1]) mismatches.push({ id, expected: want, actual: got });
  }
  if (fix && mismatches.length) {
    await models.InvitationCount.bulkWrite(
      mismatches.map((m) => {
        const e = expected.get(m.id);
        return e
          ? { updateOne: { filter: { _id: m.id }, update: { $set: { ...e.row, created: e.created, opened: e.opened } }, upsert: true } }
          : { deleteOne: { filter: { _id: m.id } } };
      }),
    );
  }
  return { rows: expected.size, mismatches };
}
