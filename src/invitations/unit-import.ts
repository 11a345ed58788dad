// `npm run admin -- units:import <csv>`: the hundred-odd commune police units of
// a province from a spreadsheet, checked line by line before anything is stored.
// Columns: code, name, parent, fields (separated by spaces, ";" or "|"); optional
// passDown and weight. A code already in the campaign is updated, a new one added.
import { parse } from 'csv-parse/sync';
import { type Campaign, campaignSchema } from './campaign.js';

export class UnitImportError extends Error {
  override name = 'UnitImportError';
  constructor(readonly problems: string[]) {
    super(`the file was not imported:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const CODE = /^[A-Za-z0-9_-]{2,32}$/;
const REQUIRED = ['code', 'name', 'parent', 'fields'];
const OPTIONAL = ['passDown', 'weight'];

export function importUnits(campaign: Campaign, csv: string): { campaign: Campaign; added: string[]; updated: string[] } {
  let rows: Array<{ info: { lines: number }; record: Record<string, string> }>;
  try {
    rows = parse(csv, {
      columns: (h: string[]) => h.map((c) => c.trim()),
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
      delimiter: [',', ';', '\t'],
    });
  } catch (err) {
    throw new UnitImportError([`not a readable CSV file: ${(err as Error).message}`]);
  }
  const header = rows[0] ? Object.keys(rows[0].record) : [];
  const problems: string[] = [];
  const missing = REQUIRED.filter((c) => !header.includes(c));
  if (rows.length === 0) problems.push('no units: the first line names the columns (code,name,parent,fields), then one unit per line');
  else if (missing.length) problems.push(`line 1: missing column(s) ${missing.join(', ')} (columns: ${[...REQUIRED, ...OPTIONAL].join(', ')})`);
  const stray = header.filter((c) => !REQUIRED.includes(c) && !OPTIONAL.includes(c));
  if (stray.length) problems.push(`line 1: unknown column(s) ${stray.join(', ')}`);
  if (problems.length) throw new UnitImportError(problems);

  const fields = new Set(campaign.fields.map((f) => f.code));
  const lineOf = new Map<string, number>();
  const known = new Set(campaign.units.map((u) => u.code));
  for (const { record } of rows) if (CODE.test(record.code ?? '')) known.add(record.code!);
  const units: Campaign['units'] = [];
  for (const { info, record } of rows) {
    const at = `line ${info.lines}`;
    const { code = '', name = '', parent = '', passDown = '', weight = '' } = record;
    const unitFields = (record.fields ?? '').split(/[\s;|]+/).filter(Boolean);
    const before = problems.length;
    if (!CODE.test(code)) problems.push(`${at}: code "${code}" must be 2-32 characters of A-Z a-z 0-9 _ -`);
    else if (lineOf.has(code)) problems.push(`${at}: code ${code} is already on line ${lineOf.get(code)}`);
    if (!name) problems.push(`${at}: name is empty`);
    if (parent && !known.has(parent)) problems.push(`${at}: parent "${parent}" is neither in the campaign nor in the file`);
    if (parent === code) problems.push(`${at}: a unit cannot be its own parent`);
    for (const f of unitFields) if (!fields.has(f)) problems.push(`${at}: unknown field "${f}" (fields: ${[...fields].join(', ')})`);
    const share = passDown === '' ? undefined : Number(passDown);
    if (share !== undefined && !(share >= 0 && share <= 1)) problems.push(`${at}: passDown "${passDown}" must be a share between 0 and 1`);
    const w = weight === '' ? 1 : Number(weight);
    if (!(w > 0)) problems.push(`${at}: weight "${weight}" must be a positive number`);
    lineOf.set(code, info.lines);
    if (problems.length === before) {
      units.push({ code, name, ...(parent ? { parent } : {}), fields: unitFields, ...(share !== undefined ? { passDown: share } : {}), weight: w });
    }
  }
  if (problems.length) throw new UnitImportError(problems);

  const byCode = new Map(campaign.units.map((u) => [u.code, u]));
  const added = units.filter((u) => !byCode.has(u.code)).map((u) => u.code);
  const updated = units.filter((u) => byCode.has(u.code)).map((u) => u.code);
  for (const u of units) byCode.set(u.code, u);
  // The whole campaign is checked again: loops through parents, quotas of units that lost a field.
  const merged = campaignSchema.safeParse({ ...campaign, units: [...byCode.values()] });
  if (!merged.success) {
    const codes = [...byCode.keys()];
    throw new UnitImportError(
      merged.error.issues.map((i) => {
        const unit = i.path[0] === 'units' ? codes[Number(i.path[1])] : undefined;
        return `${unit && lineOf.has(unit) ? `line ${lineOf.get(unit)}` : i.path.join('.')}: ${i.message}`;
      }),
    );
  }
  return { campaign: merged.data, added, updated };
}
