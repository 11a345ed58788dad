import { join } from 'node:path';
import { openDatabase } from '../src/db.js';
import { loadFlows } from '../src/engine/load.js';
import { loadCampaignFiles } from '../src/invitations/campaign.js';
import { invitationCountRows } from '../src/invitations/counts.js';
import { seedCampaigns } from '../src/invitations/seed.js';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { Reports } from '../src/reports/forms.js';
import { COMMENT_LIMIT } from '../src/responses/comment-samples.js';
import type { CountedResponse } from '../src/responses/complete.js';
import { recount } from '../src/responses/counters.js';
import { machine, recorder, saveResults } from './results.js';

const SIZES = (process.env.BENCH_BALLOTS ?? '10000,1000000').split(',').map(Number);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const BATCH = 5_000;
const CAMPAIGN = 'soc-trang-2024';

const flows = loadFlows(join(projectRoot, 'flows'));
const campaign = loadCampaignFiles(join(projectRoot, 'campaigns')).find((c) => c.id === CAMPAIGN)!;
const flow = flows.get(campaign.flows.citizen);
const slots = campaign.units.flatMap((u) => u.fields.map((field) => ({ unit: u.code, field })));

/** A small deterministic generator: the same ballots on every run. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The answers of one ballot as the engine stores them: every question with options answered, mostly 4s and 5s; one in ten suggests something. */
function answers(next: () => number, rtype: string, i: number) {
  const chosen = flow.questions.flatMap((q) => {
    const options = flow.optionsOf.get(q.id);
    if (!options) return [];
    if (q.id === 'respondent_type') return [{ q: q.id, value: rtype, label: options.find((o) => o.value === rtype)!.label }];
    const o = options.length >= 5 ? options[Math.min(4, Math.floor(2 + next() * 3.3))]! : options[Math.floor(next() * options.length)]!;
    return [{ q: q.id, value: o.value, label: o.label }];
  });
  return i % 10 === 0 ? [...chosen, { q: 'suggestion', value: `Góp ý số ${i}: nên thêm ghế chờ.` }] : chosen;
}

async function generate(uri: string, ballots: number) {
  const db = await openDatabase(uri);
  await db.conn.dropDatabase();
  await seedCampaigns(db.models, flows, join(projectRoot, 'campaigns'), CAMPAIGN);
  const next = random(ballots);
  const from = Date.parse(`${campaign.period.from}T02:00:00Z`);
  const counters: ReturnType<typeof recount> = new Map();
  const invitationCounts = new Map<string, { row: ReturnType<typeof invitationCountRows>[number]; n: number; invalid: number }>();
  const invitations = db.conn.collection('invitations');
  const responses = db.conn.collection('responses');
  // The comment samples completion keeps: the first COMMENT_LIMIT valid ballots with a comment, per unit and campaign.
  const samples: Record<string, unknown>[] = [];
  const sampled = new Map<string, number>();
  const t0 = performance.now();
  for (let start = 0; start < ballots; start += BATCH) {
    const invs: Record<string, unknown>[] = [];
    const resps: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(ballots, start + BATCH); i++) {
      const { unit, field } = slots[i % slots.length]!;
      const at = new Date(from + Math.floor(next() * DAYS) * 86_400_000 + Math.floor(next() * 8 * 3_600_000));
      const day = at.toISOString().slice(0, 10);
      const rtype = next() < 0.9 ? 'citizen' : 'organization';
      const id = `bench-${i}`;
      const invalid = i % 100 === 99;
      invs.push({
        _id: id,
        kind: 'citizen',
        campaign: CAMPAIGN,
        unit,
        field,
        caseCode: `R-${i}`,
        code: `C${i}`,
        token: `T${i}`,
        flow: campaign.flows.citizen,
        status: 'completed',
        createdAt: at,
        openedAt: at,
        completedAt: at,
        expiresAt: new Date(at.getTime() + 30 * 86_400_000),
      });
      const r = {
        invitationId: id,
        campaign: CAMPAIGN,
        kind: 'citizen',
        unit,
        field,
        channel: 'telegram',
        respondent: `p${i}`,
        flow: flow.id,
        flowVersion: flow.version,
        answers: answers(next, rtype, i),
        startedAt: at,
        completedAt: at,
        day,
        rtype,
        status: invalid ? 'invalidated' : 'valid',
        commented: i % 10 === 0,
        countersApplied: !invalid,
      };
      resps.push(r);
      if (!invalid) recount([r as unknown as CountedResponse], counters);
      const comment = r.answers.find((a) => a.q === 'suggestion');
      for (const scope of comment && !invalid ? [unit, ''] : []) {
        const n = sampled.get(scope) ?? 0;
        if (n >= COMMENT_LIMIT) continue;
        sampled.set(scope, n + 1);
        samples.push({
          _id: `${id}|${scope}`,
          invitationId: id,
          campaign: CAMPAIGN,
          kind: 'citizen',
          scope,
          field,
          day,
          rtype,
          flow: flow.id,
          flowVersion: flow.version,
          texts: [{ q: comment!.q, text: comment!.value }],
        });
      }
      for (const row of invitationCountRows({ campaign: CAMPAIGN, unit, field, createdAt: at }, campaign.timezone)) {
        // Completed on the day it was created: an invalidated ballot counts in the same rows.
        const c = invitationCounts.get(row._id) ?? { row, n: 0, invalid: 0 };
        c.n += 1;
        if (invalid) c.invalid += 1;
        invitationCounts.set(row._id, c);
      }
    }
    await Promise.all([invitations.insertMany(invs, { ordered: false }), responses.insertMany(resps, { ordered: false })]);
    if ((start / BATCH) % 20 === 19) console.log(`  ${start + BATCH} ballots written (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const rows = [...counters.values()].map(({ n, row }) => ({ ...row, n }));
  // Where the service keeps them: the campaign's rows apart from the day and month rows.
  for (const [collection, part] of [
    ['counters', rows.filter((r) => r.span !== 'all')],
    ['counter_totals', rows.filter((r) => r.span === 'all')],
  ] as const) {
    for (let i = 0; i < part.length; i += BATCH) await db.conn.collection(collection).insertMany(part.slice(i, i + BATCH) as never[], { ordered: false });
  }
  // Every invitation answered, so created = opened. The campaign's rows apart, as the service keeps them.
  const countRows = [...invitationCounts.values()].map(({ row, n, invalid }) => ({ ...row, created: n, opened: n, invalidated: invalid }));
  for (const [collection, part] of [
    ['invitation_counts', countRows.filter((r) => r.span !== 'all')],
    ['invitation_count_totals', countRows.filter((r) => r.span === 'all')],
  ] as const) {
    await db.conn.collection(collection).insertMany(part as never[], { ordered: false });
  }
  for (let i = 0; i < samples.length; i += BATCH)
    await db.conn.collection('comment_samples').insertMany(samples.slice(i, i + BATCH) as never[], { ordered: false });
  await db.conn
    .collection('comment_slots')
    .insertMany([...sampled].map(([scope, n]) => ({ _id: `${CAMPAIGN}|citizen|${scope}`, campaign: CAMPAIGN, n })) as never[]);
  // The indexes the service creates at start-up (npm start), so the report runs as it would in production.
  await Promise.all(Object.values(db.models).map((m) => m.createIndexes()));
  return { db, writeSec: (performance.now() - t0) / 1000, counterRows: rows.length };
}

/** The report's time (median of 3 runs; one run above 100,000 ballots, where a run takes long here). */
async function timeReport(reports: Reports, ballots: number, unit?: string) {
  const times: number[] = [];
  let valid = 0;
  for (let i = 0; i < (ballots > 100_000 ? 1 : 3); i++) {
    const t0 = performance.now();
    const r = await reports.form01(campaign, unit ? { unit } : {});
    times.push(performance.now() - t0);
    valid = (r.tables['form-01.A'] as Array<{ valid: number }>).reduce((a, x) => a + x.valid, 0);
  }
  return { ms: [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!, valid };
}

/** What the report reads that is bounded by units x fields x answers: the campaign's counter rows and invitation counts. */
async function timeCounts(db: Awaited<ReturnType<typeof openDatabase>>) {
  const t0 = performance.now();
  const [counters, invitations] = await Promise.all([
    db.models.CounterTotal.find({ campaign: CAMPAIGN, day: '' }).lean(),
    db.models.InvitationCountTotal.find({ campaign: CAMPAIGN, day: '' }).lean(),
  ]);
  return { ms: performance.now() - t0, rows: counters.length + invitations.length };
}

async function main() {
  const local = await ensureLocalServices({ redis: false, mongo: !process.env.MONGODB_URI });
  const mongo = process.env.MONGODB_URI ?? local.mongo!.url;
  const { lines, say } = recorder();
  say(machine());
  say(`database: ${local.mongo?.kind ?? 'MONGODB_URI'}; ${slots.length} unit x field pairs, ${DAYS} days`);
  const results: Array<{ ballots: number; whole: number; unit: number; rows: number; writeSec: number; countsMs: number; countRows: number }> = [];
  for (const n of SIZES) {
    console.log(`generating ${n} ballots...`);
    const { db, writeSec, counterRows } = await generate(`${mongo}/bench_reports_${n}`, n);
    const reports = new Reports(db.models, flows);
    const counts = await timeCounts(db);
    const whole = await timeReport(reports, n);
    const unit = await timeReport(reports, n, 'PC06');
    if (whole.valid !== n - Math.floor(n / 100)) throw new Error(`the report counted ${whole.valid} valid ballots, expected ${n - Math.floor(n / 100)}`);
    results.push({ ballots: n, whole: whole.ms, unit: unit.ms, rows: counterRows, writeSec, countsMs: counts.ms, countRows: counts.rows });
    console.log(`  ${n}: whole campaign ${whole.ms.toFixed(0)} ms, PC06 ${unit.ms.toFixed(0)} ms, counts ${counts.ms.toFixed(0)} ms (${counts.rows} rows)`);
    if (!process.env.BENCH_KEEP) await db.conn.dropDatabase();
    await db.close();
  }
  say();
  say(`${'Mẫu 01'.padEnd(34)}${results.map((r) => `${r.ballots.toLocaleString('en')} ballots`.padStart(20)).join('')}${'ratio'.padStart(9)}`);
  const row = (name: string, f: (r: (typeof results)[number]) => number, digits = 0) => {
    const vs = results.map(f);
    const ratio = vs.length > 1 ? `${(vs[vs.length - 1]! / vs[0]!).toFixed(2)}x` : '';
    say(`${name.padEnd(34)}${vs.map((v) => v.toFixed(digits).padStart(20)).join('')}${ratio.padStart(9)}`);
  };
  row('whole campaign (ms)', (r) => r.whole);
  row('one unit, PC06 (ms)', (r) => r.unit);
  row('of which counts read (ms)', (r) => r.countsMs);
  row('counter and count rows read', (r) => r.countRows);
  row('counter rows stored (all spans)', (r) => r.rows);
  row('generating the ballots (s)', (r) => r.writeSec, 1);
  say();
  say('ratio: the largest size against the smallest (goal: under 1.5 for the report). Median of 3 runs up to 100,000 ballots, one run above.');
  say('Counts read: the campaign rows of the counters and invitation counts (bounded by units x fields x answers). The rest of the');
  say("report's time is the comment samples (at most 2,000 per unit and per campaign) and the rest of the report.");
  console.log(`\nwritten to ${saveResults('reports', lines)}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
