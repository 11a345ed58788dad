// GET /admin: PV01's view of the campaign at a glance. The page signs in with a
// pv01 or admin key (kept in the tab's sessionStorage, as on /officer) and
// loads /api/dashboard, a server-rendered fragment with inline SVG charts;
// downloads fetch the report files with the key.
import { Router } from 'express';
import type { Audits } from '../../audits/audits.js';
import type { Campaign } from '../../invitations/campaign.js';
import type { Invitations } from '../../invitations/invitations.js';
import { ALERT_REASONS, type AlertReason } from '../../reports/alerts.js';
import type { Reporting } from '../../reports/reporting.js';
import type { authenticator } from '../auth.js';
import { barChart } from './charts.js';
import { esc, page } from './html.js';

const SCRIPT = `
const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem('pv01Key') || '';
async function load() {
  const res = await fetch('/api/dashboard', { headers: { authorization: 'Bearer ' + key } });
  if (!res.ok) {
    $('signin-error').textContent = res.status === 401 ? 'Khóa không đúng hoặc đã bị thu hồi.' : res.status === 403 ? 'Trang này dành cho PV01 và quản trị.' : 'Có lỗi xảy ra, xin thử lại.';
    sessionStorage.removeItem('pv01Key');
    return;
  }
  sessionStorage.setItem('pv01Key', key);
  $('signin').hidden = true;
  $('board').innerHTML = await res.text();
}
async function download(path, name) {
  const res = await fetch(path, { headers: { authorization: 'Bearer ' + key } });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await res.blob());
  a.download = name;
  a.click();
}
$('signin-form').addEventListener('submit', (e) => { e.preventDefault(); key = $('key').value.trim(); load(); });
document.addEventListener('click', (e) => {
  const b = e.target.closest('[data-download]');
  if (b) download(b.dataset.download, b.dataset.name);
});
if (key) load();
`;

const BODY = `<h1>Kết quả đo lường sự hài lòng</h1>
<section class="card" id="signin"><form id="signin-form">
<label for="key">Khóa PV01</label><input id="key" type="password" autocomplete="off" required>
<p><button class="btn primary" type="submit">Xem</button></p><p class="error" id="signin-error" role="alert"></p></form></section>
<div id="board"></div>`;

export interface DashboardDeps {
  invitations: Invitations;
  reporting: Reporting;
  audits: Audits;
  auth: ReturnType<typeof authenticator>;
  now: () => number;
}

export function dashboardRoutes(d: DashboardDeps): Router {
  const r = Router();
  r.get('/assets/dashboard.js', (_req, res) => void res.type('text/javascript').set('cache-control', 'no-cache').send(SCRIPT));
  r.get('/admin', (_req, res) => {
    res
      .set('cache-control', 'no-store')
      .type('html')
      .send(page('Kết quả đo lường - PV01', `${BODY}<script src="/assets/dashboard.js" defer></script>`, '<style>main{max-width:60rem}</style>'));
  });
  r.get('/api/dashboard', d.auth('pv01', 'admin'), async (_req, res) => {
    const campaign = await d.invitations.currentCampaign();
    res
      .set('cache-control', 'no-store')
      .type('html')
      .send(await fragment(d, campaign));
  });
  return r;
}

async function fragment(d: DashboardDeps, campaign: Campaign): Promise<string> {
  const [form01, units, progress, alerts, audits] = await Promise.all([
    d.reporting.reports.form01(campaign, {}),
    d.reporting.progress.publicRows(campaign),
    d.reporting.progress.of(campaign, d.now()),
    d.reporting.alerts.open(campaign.id),
    d.audits.list(),
  ]);
  const elements = (form01.tables['form-01.C'] as Array<{ element: string; rate: number | null }>).slice(0, -3);
  const target = progress.units.reduce((s, u) => s + u.target, 0);
  const done = progress.units.reduce((s, u) => s + u.completed, 0);
  const perUnit = new Map<string, { name: string; target: number; completed: number; behind: boolean }>();
  for (const u of progress.units) {
    const cur = perUnit.get(u.unit) ?? { name: u.name, target: 0, completed: 0, behind: false };
    cur.target += u.target;
    cur.completed += u.completed;
    cur.behind ||= u.behind;
    perUnit.set(u.unit, cur);
  }
  const downloads = [
    ['/api/reports/form-01?format=xlsx', 'mau-01.xlsx', 'Mẫu 01 (XLSX)'],
    ['/api/reports/form-01?format=csv', 'mau-01.csv', 'Mẫu 01 (CSV)'],
    ['/api/reports/form-02?format=xlsx', 'mau-02.xlsx', 'Mẫu 02 (XLSX)'],
    ['/api/reports/ballots?format=xlsx', 'phieu.xlsx', 'Danh sách phiếu (XLSX)'],
  ];
  return `<section class="card"><p class="muted">${esc(campaign.name)}</p>
<p>Chỉ số hài lòng: <strong id="index">${form01.index === null ? '—' : form01.index.toFixed(2)}</strong> · Phiếu hợp lệ: <strong>${form01.ballots}</strong> · Tiến độ: <strong>${done}/${target}</strong></p>
<p>${downloads.map(([path, name, label]) => `<button class="btn secondary" type="button" data-download="${esc(path!)}" data-name="${esc(name!)}">${esc(label!)}</button>`).join(' ')}</p></section>
<section class="card">${barChart(
    'Chỉ số hài lòng theo đơn vị (%)',
    units.map((u) => ({ label: u.name, value: u.rate, note: `chưa đủ ${5} phiếu (${u.n})` })),
  )}</section>
<section class="card">${barChart(
    'Tỷ lệ hài lòng theo yếu tố (%)',
    elements.map((e) => ({ label: e.element, value: e.rate })),
  )}</section>
<section class="card"><h2>Tiến độ so với chỉ tiêu</h2><table><thead><tr><th>Đơn vị</th><th>Đã trả lời</th><th>Chỉ tiêu</th><th></th></tr></thead><tbody>${[
    ...perUnit.values(),
  ]
    .map(
      (u) => `<tr><td>${esc(u.name)}</td><td>${u.completed}</td><td>${u.target}</td><td>${u.behind ? '<span class="error">Chậm tiến độ</span>' : ''}</td></tr>`,
    )
    .join('')}</tbody></table>
<p class="muted">${progress.deadlines.map((x) => `${esc(x.label)}: ${x.daysLeft >= 0 ? `còn ${x.daysLeft} ngày` : 'đã qua'}`).join(' · ')}</p></section>
<section class="card"><h2>Cảnh báo chưa xử lý (${alerts.length})</h2>${
    alerts.length
      ? `<ul>${alerts.map((a) => `<li>${esc(a.day ?? '')} · ${esc(a.unit ?? '')} · hồ sơ ${esc(a.caseCode ?? '')}: ${(a.reasons as AlertReason[]).map((x) => esc(ALERT_REASONS[x])).join('; ')}</li>`).join('')}</ul>`
      : '<p class="muted">Không có cảnh báo.</p>'
  }</section>
<section class="card"><h2>Hậu kiểm</h2><p><a href="/admin/audits">Chọn mẫu, theo dõi và ghi kết quả hậu kiểm</a></p>${
    audits.length
      ? `<table><thead><tr><th>Ngày</th><th>Loại</th><th>Chọn mẫu</th><th>Tình trạng</th></tr></thead><tbody>${audits
          .map(
            (a) =>
              `<tr><td>${esc(a.createdAt.slice(0, 10))}</td><td>${a.kind === 'agency' ? 'Cơ quan' : 'Người dân'}</td><td>${a.progress.sampled}</td><td>${a.status === 'closed' ? 'Đã xong' : a.deadlineNear ? '<span class="error">Sắp hết hạn</span>' : 'Đang xác minh'}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '<p class="muted">Chưa có đợt hậu kiểm.</p>'
  }</section>`;
}
