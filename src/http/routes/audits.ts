// /api/audits: PV01's post-audit. The call list shows phones: PV01 only, and
// every read is written to the audit log.
import ExcelJS from 'exceljs';
import { Router } from 'express';
import { type Audits, callOutcomeBody, createAuditBody, overrideBody, type UnitResult } from '../../audits/audits.js';
import type { Models } from '../../db.js';
import type { Actor } from '../../invitations/invitations.js';
import type { authenticator } from '../auth.js';
import { HttpError, validInput } from '../errors.js';

/** The report's columns, as PV01 reads them (the post-audit page shows the same). */
export const REPORT_COLUMNS: Array<[keyof UnitResult, string]> = [
  ['unit', 'Đơn vị'],
  ['validN', 'Số phiếu hợp lệ'],
  ['sampled', 'Số phiếu chọn mẫu'],
  ['reached', 'Liên hệ được'],
  ['confirmed', 'Xác nhận đúng'],
  ['differing', 'Trả lời khác'],
  ['denied', 'Không tham gia khảo sát'],
  ['unreachable', 'Không liên hệ được'],
  ['blocked', 'Bị chặn'],
  ['pending', 'Đang xác minh'],
  ['problemRate', 'Tỷ lệ có vấn đề (%)'],
  ['indexBefore', 'Chỉ số trước hậu kiểm'],
  ['indexAfter', 'Chỉ số sau hậu kiểm'],
];

const csvCell = (v: unknown) => `"${String(v ?? '').replace(/"/g, '""')}"`;

export function auditRoutes(deps: { audits: Audits; models: Models; auth: ReturnType<typeof authenticator> }): Router {
  const { audits, models, auth } = deps;
  const r = Router();
  const actorOf = (res: { locals: Record<string, unknown> }) => res.locals.actor as Actor;
  const log = (actor: Actor, action: string, target: string, details?: Record<string, unknown>) =>
    models.AuditLog.create({ at: new Date(), actor: actor.keyId, role: actor.role, action, target, details });

  r.post('/', auth('pv01'), async (req, res) => {
    const body = validInput(createAuditBody, req.body);
    const actor = actorOf(res);
    const audit = await audits.create(body, actor);
    await log(actor, 'audit.create', audit.id, {
      kind: body.kind,
      rate: body.rate,
      minimum: body.minimum,
      seed: audit.seed,
      riskWeighting: body.riskWeighting,
    });
    res.status(201).json(audit);
  });

  r.get('/', auth('pv01', 'admin'), async (_req, res) => {
    res.json({ audits: await audits.list() });
  });

  r.get('/:id', auth('pv01', 'admin'), async (req, res) => {
    res.json(await audits.get(String(req.params.id)));
  });

  r.get('/:id/report.:format', auth('pv01', 'admin'), async (req, res) => {
    const audit = await audits.get(String(req.params.id));
    const rows = audit.units;
    const name = `hau-kiem-${audit.id}`;
    switch (req.params.format) {
      case 'json':
        return void res.json({ audit: { ...audit, units: undefined }, units: rows });
      case 'csv': {
        const lines = [REPORT_COLUMNS.map(([, title]) => csvCell(title)).join(','), ...rows.map((u) => REPORT_COLUMNS.map(([k]) => csvCell(u[k])).join(','))];
        res.type('text/csv; charset=utf-8').attachment(`${name}.csv`);
        // A BOM, so that spreadsheet programs read the Vietnamese as UTF-8.
        return void res.send(`\ufeff${lines.join('\r\n')}\r\n`);
      }
      case 'xlsx': {
        const book = new ExcelJS.Workbook();
        const sheet = book.addWorksheet('Hậu kiểm');
        sheet.columns = REPORT_COLUMNS.map(([key, header]) => ({ key, header, width: Math.max(12, header.length + 2) }));
        for (const u of rows) sheet.addRow(u);
        sheet.getRow(1).font = { bold: true };
        res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').attachment(`${name}.xlsx`);
        return void res.send(Buffer.from(await book.xlsx.writeBuffer()));
      }
      default:
        throw new HttpError(404, 'not_found', 'reports are report.json, report.csv or report.xlsx');
    }
  });

  r.get('/:id/items', auth('pv01', 'admin'), async (req, res) => {
    res.json({ items: await audits.items(String(req.params.id)) });
  });

  r.get('/:id/calls', auth('pv01'), async (req, res) => {
    const actor = actorOf(res);
    const calls = await audits.calls(String(req.params.id));
    // Phones are shown here only: who read them, and when, is kept.
    await log(actor, 'audit.calls.read', String(req.params.id), { count: calls.length });
    res.json({ calls });
  });

  r.post('/:id/items/:item/call', auth('pv01'), async (req, res) => {
    const body = validInput(callOutcomeBody, req.body);
    const actor = actorOf(res);
    const done = await audits.recordCall(String(req.params.id), String(req.params.item), body);
    await log(actor, 'audit.call', String(req.params.item), { audit: req.params.id, outcome: body.outcome, note: body.note });
    res.json(done);
  });

  r.post('/:id/items/:item/override', auth('pv01'), async (req, res) => {
    const body = validInput(overrideBody, req.body);
    const actor = actorOf(res);
    const done = await audits.override(String(req.params.id), String(req.params.item), body);
    await log(actor, 'audit.override', String(req.params.item), { audit: req.params.id, ...done, reason: body.reason });
    res.json(done);
  });

  return r;
}
