// GET /admin/audits: PV01's post-audit page. Sign in with the PV01 key (the
// dashboard's, kept in the tab's sessionStorage), draw a sample, follow an
// audit (per unit, per sampled ballot), record the calls to who no message
// reaches, and override an outcome with its reason. It speaks only to
// /api/audits; the phones appear only when PV01 opens the call list, and each
// opening is logged there.
import { Router } from 'express';
import type { RiskSignal } from '../../audits/risk.js';
import { REPORT_COLUMNS } from '../routes/audits.js';
import { PAGE_SCRIPT_HELPERS, page } from './html.js';

/** The risk signals in PV01's words (every signal: the type asks for each). */
const RISK_WORDS: Record<RiskSignal, string> = {
  'one-respondent-many-cases': 'một tài khoản trả lời nhiều hồ sơ hoặc đơn vị',
  'completed-soon-after-creation': 'trả lời trong 5 phút sau khi tạo phiếu',
  'very-fast': 'trả lời dưới 60 giây',
  'identical-answers-same-officer': 'nhiều phiếu của cùng cán bộ trả lời giống hệt nhau',
  'same-chat-same-desk': 'một tài khoản trả lời nhiều hồ sơ của cùng cán bộ',
};

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const COLUMNS = ${JSON.stringify(REPORT_COLUMNS)};
const RISK = ${JSON.stringify(RISK_WORDS)};
const OUTCOME = { confirmed: 'Xác nhận đúng', differs: 'Trả lời khác', denied: 'Không tham gia khảo sát', unreachable: 'Không liên hệ được', blocked: 'Bị chặn' };
const STATE = { pending: 'Chờ gửi', asked: 'Đã hỏi, chờ trả lời', reminded: 'Đã nhắc, chờ trả lời', call: 'Cần gọi điện', done: 'Đã có kết quả' };
const BY = { chat: 'qua tin nhắn', call: 'qua điện thoại', override: 'PV01 điều chỉnh' };
const CHANNEL = { telegram: 'Telegram', zalo: 'Zalo', web: 'Trình duyệt' };
// API error codes in PV01's words (the API itself speaks to integrators, in English).
const ERRORS = {
  unauthorized: 'Khóa không đúng hoặc đã bị thu hồi.',
  forbidden: 'Thao tác này chỉ dành cho khóa PV01.',
  invalid_body: 'Thông tin chưa hợp lệ: tỷ lệ từ 1 đến 100%, số tối thiểu từ 0 đến 1000, mã đơn vị gồm chữ, số, _ và -; ghi chú, lý do không được để trống.',
  unknown_unit: 'Có mã đơn vị không thuộc đợt khảo sát.',
  no_audit_flow: 'Đợt khảo sát chưa có bộ câu hỏi hậu kiểm.',
  no_campaign: 'Chưa có đợt khảo sát nào đang chạy.',
  not_found: 'Không tìm thấy đợt hậu kiểm hoặc phiếu.',
  not_on_call_list: 'Phiếu này không còn trong danh sách cần gọi (đã có kết quả).',
  rate_limited: 'Thao tác quá nhanh, xin đợi một phút rồi thử lại.',
  unavailable: 'Hệ thống đang bận, xin thử lại sau ít phút.',
};
const say = (e) => ERRORS[e.code] || 'Có lỗi xảy ra (' + (e.code || 'không rõ') + '). Xin thử lại.';
const state = { key: sessionStorage.getItem('pv01Key') || '', audit: null };

${PAGE_SCRIPT_HELPERS}
const get = async (path) => (await call('GET', path)).data;

async function signIn(ev) {
  if (ev) ev.preventDefault();
  if (ev) state.key = $('key').value.trim();
  try {
    await showList();
  } catch (e) {
    $('signin-error').textContent = 'Không đăng nhập được: ' + say(e);
    sessionStorage.removeItem('pv01Key');
    return;
  }
  sessionStorage.setItem('pv01Key', state.key);
  $('signin').hidden = true;
  $('work').hidden = false;
}

async function showList() {
  const { audits } = await get('/api/audits');
  $('audits').innerHTML = audits.length
    ? audits.map((a) => '<tr><td>' + esc(a.createdAt.slice(0, 10)) + '</td><td>' + (a.kind === 'agency' ? 'Cơ quan' : 'Người dân') + '</td><td>' + a.progress.sampled +
        '</td><td>' + a.progress.waiting + '</td><td>' + a.progress.onCallList + '</td><td>' + (a.status === 'closed' ? 'Đã xong' : a.deadlineNear ? '<span class="error">Sắp hết hạn</span>' : 'Đang xác minh') +
        '</td><td><button class="btn secondary" type="button" data-open="' + esc(a.id) + '">Xem<span class="visually-hidden"> đợt ngày ' + esc(a.createdAt.slice(0, 10)) + '</span></button></td></tr>').join('')
    : '<tr><td colspan="7" class="muted">Chưa có đợt hậu kiểm.</td></tr>';
}

async function create(ev) {
  ev.preventDefault();
  $('create-error').textContent = '';
  const body = { kind: $('kind').value, rate: Number($('rate').value) / 100, minimum: Number($('minimum').value), riskWeighting: $('risk').checked };
  const units = $('units').value.split(/[\\s,;]+/).filter(Boolean);
  if (units.length) body.units = units;
  try {
    const audit = (await call('POST', '/api/audits', body)).data;
    await showList();
    await showAudit(audit.id);
    $('detail').focus();
  } catch (e) {
    $('create-error').textContent = say(e);
  }
}

async function showAudit(id) {
  const [audit, { items }] = await Promise.all([get('/api/audits/' + encodeURIComponent(id)), get('/api/audits/' + encodeURIComponent(id) + '/items')]);
  state.audit = audit;
  const p = audit.progress;
  $('detail-title').textContent = 'Đợt hậu kiểm ngày ' + audit.createdAt.slice(0, 10) + (audit.kind === 'agency' ? ' (cơ quan)' : ' (người dân)');
  $('detail-summary').textContent = 'Chọn mẫu ' + p.sampled + ' phiếu (tỷ lệ ' + Math.round(audit.rate * 1000) / 10 + '%, tối thiểu ' + audit.minimum + ' mỗi đơn vị' +
    (audit.riskWeighting ? ', ưu tiên phiếu có dấu hiệu rủi ro' : '') + '; mã chọn mẫu ' + audit.seed + '). Đang chờ trả lời: ' + p.waiting + '; cần gọi điện: ' + p.onCallList +
    (audit.deadline ? '; hạn ' + audit.deadline.split('-').reverse().join('/') : '') + '.';
  $('units-head').innerHTML = '<tr>' + COLUMNS.map((c) => '<th scope="col">' + esc(c[1]) + '</th>').join('') + '</tr>';
  $('units-body').innerHTML = audit.units.map((u) => '<tr>' + COLUMNS.map((c) => '<td>' + esc(u[c[0]] == null ? '—' : u[c[0]]) + '</td>').join('') + '</tr>').join('');
  $('items').innerHTML = items.map(itemRow).join('');
  $('calls').innerHTML = '';
  $('calls-table').hidden = true;
  $('calls-note').textContent = p.onCallList ? '' : 'Không có phiếu nào cần gọi điện.';
  $('show-calls').hidden = !p.onCallList;
  $('detail').hidden = false;
}

const outcomeOptions = (outcomes) => outcomes.map((o) => '<option value="' + o + '">' + OUTCOME[o] + '</option>').join('');

function itemRow(i) {
  // On the call list it carries what the messages gave (unreachable, blocked); the outcome is the call's.
  const where = i.state === 'done' && i.outcome ? OUTCOME[i.outcome] + (i.outcomeBy ? ' (' + BY[i.outcomeBy] + ')' : '') :
    STATE[i.state] + (i.state === 'call' && i.outcome ? ' (tin nhắn: ' + OUTCOME[i.outcome].toLowerCase() + ')' : '');
  return '<tr><td>' + esc(i.unitName) + '</td><td>' + esc(i.caseCode || '—') + '</td><td>' + esc(CHANNEL[i.channel] || i.channel || '—') + '</td><td>' +
    esc(i.risk.map((r) => RISK[r] || r).join('; ') || '—') + '</td><td>' + esc(where) + '</td><td>' + esc(i.note || '') + '</td><td>' +
    '<details><summary>Điều chỉnh<span class="visually-hidden"> hồ sơ ' + esc(i.caseCode || '') + '</span></summary><form data-override="' + esc(i.item) + '">' +
    '<select aria-label="Kết quả mới" name="outcome">' + outcomeOptions(['confirmed', 'differs', 'denied', 'unreachable', 'blocked']) + '</select>' +
    '<input aria-label="Lý do điều chỉnh" name="reason" required maxlength="1000" placeholder="Lý do">' +
    '<button class="btn primary" type="submit">Lưu</button><span class="error" role="alert"></span></form></details></td></tr>';
}

async function showCalls() {
  const { calls } = await get('/api/audits/' + encodeURIComponent(state.audit.id) + '/calls');
  $('calls').innerHTML = calls.map((c) => '<tr><td>' + esc(c.unitName) + '</td><td>' + esc(c.caseCode || '—') + '</td><td>' + esc(c.phone || 'không có số') + '</td><td>' +
    esc(c.why ? OUTCOME[c.why] : '') + '</td><td><form data-call="' + esc(c.item) + '">' +
    '<select aria-label="Kết quả cuộc gọi" name="outcome">' + outcomeOptions(['confirmed', 'differs', 'denied', 'unreachable']) + '</select>' +
    '<input aria-label="Ghi chú cuộc gọi" name="note" required maxlength="1000" placeholder="Ghi chú">' +
    '<button class="btn primary" type="submit">Ghi kết quả</button><span class="error" role="alert"></span></form></td></tr>').join('');
  $('calls-table').hidden = !calls.length;
  $('calls-note').textContent = calls.length ? '' : 'Không có phiếu nào cần gọi điện.';
}

async function record(form) {
  const error = form.querySelector('[role=alert]');
  error.textContent = '';
  const id = encodeURIComponent(state.audit.id);
  try {
    if (form.dataset.call) await call('POST', '/api/audits/' + id + '/items/' + encodeURIComponent(form.dataset.call) + '/call', { outcome: form.outcome.value, note: form.note.value.trim() });
    else await call('POST', '/api/audits/' + id + '/items/' + encodeURIComponent(form.dataset.override) + '/override', { outcome: form.outcome.value, reason: form.reason.value.trim() });
  } catch (e) {
    error.textContent = say(e);
    return;
  }
  const calling = Boolean(form.dataset.call);
  await showAudit(state.audit.id);
  if (calling && state.audit.progress.onCallList) await showCalls();
  $('saved').textContent = 'Đã lưu.';
  await showList();
}

// A file: fetched with the key, then saved (a link cannot carry the key).
async function download(format) {
  const res = await fetch('/api/audits/' + encodeURIComponent(state.audit.id) + '/report.' + format, { headers: { authorization: 'Bearer ' + state.key } }).catch(() => null);
  if (!res || !res.ok) {
    $('saved').textContent = say({ code: res ? 'unknown' : 'unavailable' });
    return;
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await res.blob());
  a.download = 'hau-kiem-' + state.audit.id + '.' + format;
  a.click();
}

$('signin-form').addEventListener('submit', signIn);
$('create-form').addEventListener('submit', create);
$('show-calls').addEventListener('click', () => showCalls().catch((e) => ($('calls-note').textContent = say(e))));
$('signout').addEventListener('click', () => { sessionStorage.removeItem('pv01Key'); location.reload(); });
document.addEventListener('click', (e) => {
  const open = e.target.closest('[data-open]');
  if (open) showAudit(open.dataset.open).catch((err) => ($('list-error').textContent = say(err)));
  const file = e.target.closest('[data-format]');
  if (file) download(file.dataset.format);
});
document.addEventListener('submit', (e) => {
  const form = e.target.closest('form[data-call], form[data-override]');
  if (!form) return;
  e.preventDefault();
  $('saved').textContent = '';
  record(form);
});
if (state.key) signIn();
`;

const BODY = `<h1>Hậu kiểm kết quả khảo sát</h1>
<section class="card" id="signin"><form id="signin-form">
<label for="key">Khóa PV01</label><input id="key" type="password" autocomplete="off" required>
<p><button class="btn primary" type="submit">Xem</button></p><p class="error" id="signin-error" role="alert"></p></form></section>
<div id="work" hidden>
<section class="card"><p><a href="/admin">Về trang kết quả</a> <button class="btn" type="button" id="signout">Đăng xuất</button></p>
<h2>Chọn mẫu hậu kiểm</h2>
<form id="create-form">
<label for="kind">Đối tượng</label><select id="kind"><option value="citizen">Người dân, tổ chức</option><option value="agency">Cơ quan</option></select>
<label for="rate">Tỷ lệ chọn mẫu (%)</label><input id="rate" type="number" min="1" max="100" step="0.1" value="10" required>
<label for="minimum">Số phiếu tối thiểu mỗi đơn vị</label><input id="minimum" type="number" min="0" max="1000" value="3" required>
<label for="units">Mã đơn vị (cách nhau bởi dấu phẩy; để trống: tất cả)</label><input id="units" maxlength="2000">
<p><label><input id="risk" type="checkbox" style="width:auto"> Ưu tiên phiếu có dấu hiệu rủi ro</label></p>
<p><button class="btn primary" type="submit">Chọn mẫu</button></p><p class="error" id="create-error" role="alert"></p>
</form></section>
<section class="card"><h2>Các đợt hậu kiểm</h2><p class="error" id="list-error" role="alert"></p>
<table><thead><tr><th scope="col">Ngày</th><th scope="col">Đối tượng</th><th scope="col">Chọn mẫu</th><th scope="col">Chờ trả lời</th><th scope="col">Cần gọi</th><th scope="col">Tình trạng</th><th scope="col"><span class="visually-hidden">Xem</span></th></tr></thead><tbody id="audits"></tbody></table></section>
<section class="card" id="detail" hidden tabindex="-1">
<h2 id="detail-title"></h2><p id="detail-summary"></p><p role="status" id="saved"></p>
<p><button class="btn secondary" type="button" data-format="xlsx">Tải báo cáo (XLSX)</button> <button class="btn secondary" type="button" data-format="csv">Tải báo cáo (CSV)</button></p>
<h3>Kết quả theo đơn vị</h3><div class="wide"><table><thead id="units-head"></thead><tbody id="units-body"></tbody></table></div>
<h3>Danh sách cần gọi điện</h3><p class="muted">Số điện thoại chỉ hiện khi bấm nút; mỗi lần xem được ghi vào nhật ký.</p>
<p><button class="btn secondary" type="button" id="show-calls">Hiện danh sách và số điện thoại</button></p><p id="calls-note" role="status"></p>
<div class="wide" id="calls-table" hidden><table><thead><tr><th scope="col">Đơn vị</th><th scope="col">Hồ sơ</th><th scope="col">Số điện thoại</th><th scope="col">Vì sao</th><th scope="col">Kết quả cuộc gọi</th></tr></thead><tbody id="calls"></tbody></table></div>
<h3>Phiếu được chọn</h3>
<div class="wide"><table><thead><tr><th scope="col">Đơn vị</th><th scope="col">Hồ sơ</th><th scope="col">Kênh</th><th scope="col">Dấu hiệu rủi ro</th><th scope="col">Kết quả</th><th scope="col">Ghi chú</th><th scope="col"><span class="visually-hidden">Điều chỉnh</span></th></tr></thead><tbody id="items"></tbody></table></div>
</section></div>`;

const STYLE = `<style>
  main { max-width: 72rem; }
  .wide { overflow-x: auto; }
  td form { display: flex; gap: .3rem; flex-wrap: wrap; align-items: center; } td form select, td form input { width: auto; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style>`;

export function auditPageRoutes(): Router {
  const r = Router();
  const html = page('Hậu kiểm - PV01', `${BODY}<script src="/assets/audits.js" defer></script>`, STYLE);
  r.get('/assets/audits.js', (_req, res) => void res.type('text/javascript').set('cache-control', 'no-cache').send(SCRIPT));
  r.get('/admin/audits', (_req, res) => void res.set('cache-control', 'no-store').type('html').send(html));
  return r;
}
