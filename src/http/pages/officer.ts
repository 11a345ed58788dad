// GET /officer: the desk officer's page. Sign in with the unit key, create an
// invitation, print the slip (A6 or 80 mm receipt), see today's invitations.
// Plain HTML and script: no front-end build step.
import { Router } from 'express';
import { page } from './html.js';

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem('officerKey') || '', me: null, campaign: null };
const STATUS = { created: 'Chưa mở', opened: 'Đang trả lời', completed: 'Đã hoàn thành', expired: 'Hết hạn', cancelled: 'Đã hủy' };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

async function call(method, path, body) {
  const res = await fetch(path, { method, headers: Object.assign({ authorization: 'Bearer ' + state.key }, body ? { 'content-type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined });
  const isJson = (res.headers.get('content-type') || '').includes('json');
  const data = isJson ? await res.json() : await res.text();
  if (!res.ok) throw new Error((data && data.error && data.error.message) || res.statusText);
  return data;
}

async function signIn(key) {
  state.key = key.trim();
  try {
    state.me = await call('GET', '/api/me');
    state.campaign = await call('GET', '/api/campaigns/current');
  } catch (e) {
    $('signin-error').textContent = 'Không đăng nhập được: ' + e.message;
    return;
  }
  sessionStorage.setItem('officerKey', state.key);
  const units = state.campaign.units.filter((u) => !state.me.unit || u.code === state.me.unit);
  $('unit').innerHTML = units.map((u) => '<option value="' + esc(u.code) + '">' + esc(u.name) + '</option>').join('');
  fillFields();
  $('signin').hidden = true;
  $('work').hidden = false;
  $('who').textContent = units.length === 1 ? units[0].name : 'PV01 / quản trị';
  await refresh();
}

function fillFields() {
  const unit = state.campaign.units.find((u) => u.code === $('unit').value);
  $('field').innerHTML = unit.fields.map((f) => '<option value="' + esc(f.code) + '">' + esc(f.name) + '</option>').join('');
}

async function create(ev) {
  ev.preventDefault();
  $('create-error').textContent = '';
  const body = { caseCode: $('caseCode').value.trim(), unit: $('unit').value, field: $('field').value };
  if ($('procedure').value.trim()) body.procedure = $('procedure').value.trim();
  if ($('respondentType').value) body.respondentType = $('respondentType').value;
  if ($('phone').value.trim()) body.phone = $('phone').value.trim();
  try {
    const inv = await call('POST', '/api/invitations', body);
    await showSlip(inv);
    await refresh();
  } catch (e) {
    $('create-error').textContent = e.message;
  }
}

async function showSlip(inv) {
  const unit = state.campaign.units.find((u) => u.code === inv.unit);
  const svg = await call('GET', '/api/invitations/' + inv.id + '/qr.svg');
  const code = inv.code.slice(0, 4) + '-' + inv.code.slice(4);
  $('slip-unit').textContent = unit ? unit.name : inv.unit;
  $('slip-case').textContent = 'Hồ sơ: ' + inv.caseCode;
  $('slip-qr').innerHTML = svg;
  $('slip-code').textContent = code;
  const chats = state.campaign.channels.map((c) => c.title).join(' hoặc ');
  $('slip-help').textContent = chats
    ? 'Quét mã QR, hoặc gửi mã ' + code + ' cho Công an tỉnh trên ' + chats + ', để đánh giá mức độ hài lòng (2-3 phút).'
    : 'Quét mã QR để đánh giá mức độ hài lòng (2-3 phút).';
  $('slip-card').hidden = false;
}

async function refresh() {
  const unit = $('unit').value;
  const { invitations } = await call('GET', '/api/invitations?unit=' + encodeURIComponent(unit));
  $('today').innerHTML = invitations.length
    ? invitations.map((i) => '<tr data-id="' + esc(i.id) + '"><td>' + esc(i.caseCode) + '</td><td>' + esc(i.code) + '</td><td class="status">' + esc(STATUS[i.status] || i.status) + '</td><td>' + new Date(i.createdAt).toLocaleTimeString('vi-VN') + '</td></tr>').join('')
    : '<tr><td colspan="4" class="muted">Chưa có phiếu nào hôm nay.</td></tr>';
}

$('signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value); });
$('create-form').addEventListener('submit', create);
$('unit').addEventListener('change', () => { fillFields(); refresh(); });
$('print').addEventListener('click', () => { document.body.dataset.slip = $('size').value; window.print(); });
$('size').addEventListener('change', () => { document.body.dataset.slip = $('size').value; });
$('refresh').addEventListener('click', refresh);
$('signout').addEventListener('click', () => { sessionStorage.removeItem('officerKey'); location.reload(); });
if (state.key) signIn(state.key);
`;

const STYLE = `<style>
  #slip { background: #fff; border: 1px dashed #999; padding: 6mm; text-align: center; margin: 0 auto; }
  body[data-slip="a6"] #slip { width: 105mm; min-height: 148mm; box-sizing: border-box; }
  body[data-slip="receipt"] #slip { width: 80mm; box-sizing: border-box; }
  #slip-qr svg { width: 60mm; height: 60mm; }
  #slip-unit { font-weight: 700; font-size: 1.05rem; } #slip-code { font: 700 1.8rem ui-monospace, monospace; letter-spacing: .12em; }
  @media print {
    body { background: #fff; } main > h1, #signin, #work > section:not(#slip-card) { display: none !important; }
    #slip-card { box-shadow: none; padding: 0; } #slip-card > *:not(#slip) { display: none !important; }
    #slip { border: 0; }
    @page { margin: 4mm; }
  }
</style>`;

const BODY = `
<h1>Phiếu khảo sát sự hài lòng</h1>
<section class="card" id="signin">
  <form id="signin-form">
    <label for="key">Khóa đơn vị (API key)</label>
    <input id="key" type="password" autocomplete="off" required>
    <p><button class="btn primary" type="submit">Đăng nhập</button></p>
    <p class="error" id="signin-error"></p>
  </form>
</section>
<div id="work" hidden>
  <section class="card">
    <div><strong id="who"></strong> <button class="btn" type="button" id="signout">Đăng xuất</button></div>
    <form id="create-form">
      <label for="unit">Đơn vị</label><select id="unit"></select>
      <label for="caseCode">Mã hồ sơ</label><input id="caseCode" required maxlength="64" placeholder="VD: 000.00.00.H52-240612-0001">
      <label for="field">Lĩnh vực</label><select id="field"></select>
      <label for="procedure">Thủ tục (không bắt buộc)</label><input id="procedure" maxlength="300">
      <label for="respondentType">Người đến làm thủ tục</label>
      <select id="respondentType"><option value="">Không ghi</option><option value="citizen">Người dân</option><option value="organization">Đại diện tổ chức, doanh nghiệp</option></select>
      <label for="phone">Số điện thoại (không bắt buộc, để hậu kiểm)</label><input id="phone" inputmode="tel" maxlength="15">
      <p><button class="btn primary" type="submit" id="create">Tạo phiếu</button></p>
      <p class="error" id="create-error"></p>
    </form>
  </section>
  <section class="card" id="slip-card" hidden>
    <div id="slip"><div id="slip-unit"></div><div id="slip-case"></div><div id="slip-qr"></div><div id="slip-code"></div><p id="slip-help"></p></div>
    <p><label for="size">Khổ in</label><select id="size"><option value="a6">A6</option><option value="receipt">Giấy in hóa đơn 80 mm</option></select></p>
    <p><button class="btn secondary" type="button" id="print">In phiếu</button></p>
  </section>
  <section class="card">
    <h2>Phiếu tạo hôm nay <button class="btn" type="button" id="refresh">Tải lại</button></h2>
    <table><thead><tr><th>Hồ sơ</th><th>Mã</th><th>Trạng thái</th><th>Giờ tạo</th></tr></thead><tbody id="today"></tbody></table>
  </section>
</div>`;

export function officerRoutes(): Router {
  const r = Router();
  const html = page('Phiếu khảo sát - Cán bộ một cửa', `${BODY}<script>${SCRIPT}</script>`, STYLE).replace('<body>', '<body data-slip="a6">');
  r.get('/officer', (_req, res) => {
    res.set('cache-control', 'no-store').type('html').send(html);
  });
  return r;
}
