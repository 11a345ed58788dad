// GET /officer: the desk officer's page. Sign in with the unit key, create an
// invitation, print the slip (A6 or 80 mm receipt), see today's invitations.
// Plain HTML and a script served from /assets (no inline script, no build step).
// Everything the officer reads is Vietnamese: API errors are shown by their code.
import { Router } from 'express';
import { PAGE_SCRIPT_HELPERS, page } from './html.js';

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem('officerKey') || '', me: null, campaign: null };
const STATUS = { created: 'Chưa mở', opened: 'Đang trả lời', completed: 'Đã hoàn thành', expired: 'Hết hạn', cancelled: 'Đã hủy' };
// API error codes in the officer's words (the API itself speaks to integrators, in English).
const ERRORS = {
  unauthorized: 'Khóa đơn vị không đúng hoặc đã bị thu hồi. Xin kiểm tra lại khóa (liên hệ PV01 nếu cần khóa mới).',
  forbidden: 'Khóa này không được dùng cho đơn vị đã chọn.',
  invalid_body: 'Thông tin chưa hợp lệ. Xin kiểm tra mã hồ sơ (chỉ gồm chữ, số và các dấu _ . / -) và số điện thoại.',
  unknown_unit: 'Đơn vị không có trong đợt khảo sát.',
  unknown_field: 'Lĩnh vực không thuộc đơn vị đã chọn.',
  unknown_procedure: 'Thủ tục không có trong danh mục của lĩnh vực đã chọn.',
  future_date: 'Ngày trả kết quả không thể sau ngày hôm nay.',
  no_campaign: 'Chưa có đợt khảo sát nào đang chạy. Xin liên hệ PV01.',
  not_found: 'Không tìm thấy phiếu.',
  already_completed: 'Phiếu đã được trả lời, không thể hủy.',
  too_large: 'Nội dung gửi lên quá lớn.',
  rate_limited: 'Thao tác quá nhanh, xin đợi một phút rồi thử lại.',
  unavailable: 'Hệ thống đang bận, xin thử lại sau ít phút.',
};
const say = (e) => ERRORS[e.code] || 'Có lỗi xảy ra (' + (e.code || 'không rõ') + '). Xin thử lại hoặc liên hệ PV01.';
const formatCode = (c) => c.slice(0, 4) + '-' + c.slice(4);

${PAGE_SCRIPT_HELPERS}
async function signIn(key) {
  state.key = key.trim();
  $('signin-error').textContent = '';
  try {
    state.me = (await call('GET', '/api/me')).data;
    state.campaign = (await call('GET', '/api/campaigns/current')).data;
  } catch (e) {
    $('signin-error').textContent = 'Không đăng nhập được: ' + say(e);
    sessionStorage.removeItem('officerKey');
    return;
  }
  sessionStorage.setItem('officerKey', state.key);
  // Only units that handle a field take cases; a key for a district also covers its communes.
  const units = state.campaign.units.filter((u) => u.fields.length && (!state.me.units || state.me.units.includes(u.code)));
  $('unit').innerHTML = units.map((u) => '<option value="' + esc(u.code) + '">' + esc(u.name) + '</option>').join('');
  $('handedBackOn').value = today();
  fillFields();
  $('signin').hidden = true;
  $('work').hidden = false;
  const mine = state.me.unit && state.campaign.units.find((u) => u.code === state.me.unit);
  $('who').textContent = mine ? mine.name + (units.length > 1 ? ' (và ' + (units.length - 1) + ' đơn vị trực thuộc)' : '') : 'PV01 / quản trị';
  const warnings = [];
  if (!state.campaign.channels.length) warnings.push('Chưa bật kênh Zalo hay Telegram nào: người dân chỉ trả lời được khi quét mã QR. Xin báo quản trị hệ thống.');
  if (state.campaign.periodOver) warnings.push('Đợt khảo sát "' + state.campaign.name + '" đã kết thúc (' + state.campaign.period.to + '). Phiếu vẫn tạo được, nhưng chỉ nên dùng để tập huấn, thử nghiệm.');
  $('warnings').innerHTML = warnings.map((w) => '<p class="error">' + esc(w) + '</p>').join('');
  $('warnings').hidden = !warnings.length;
  await refresh();
}

function fillFields() {
  const unit = state.campaign.units.find((u) => u.code === $('unit').value);
  $('field').innerHTML = unit.fields.map((f) => '<option value="' + esc(f.code) + '">' + esc(f.name) + '</option>').join('');
  fillProcedures();
}

// The field's coded procedures are offered; a procedure not in the list can still be typed.
function fillProcedures() {
  const unit = state.campaign.units.find((u) => u.code === $('unit').value);
  const field = unit && unit.fields.find((f) => f.code === $('field').value);
  $('procedures').innerHTML = ((field && field.procedures) || []).map((p) => '<option value="' + esc(p.name) + '"></option>').join('');
}

function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

async function create(ev) {
  ev.preventDefault();
  $('create-error').textContent = '';
  $('create-note').textContent = '';
  const body = { caseCode: $('caseCode').value.trim(), unit: $('unit').value, field: $('field').value };
  if ($('procedure').value.trim()) body.procedure = $('procedure').value.trim();
  if ($('respondentType').value) body.respondentType = $('respondentType').value;
  if ($('submittedVia').value) body.submittedVia = $('submittedVia').value;
  if ($('handedBackOn').value) body.handedBackOn = $('handedBackOn').value;
  if ($('phone').value.trim()) body.phone = $('phone').value.trim();
  try {
    const { status, data: inv } = await call('POST', '/api/invitations', body);
    await showSlip(inv);
    // 200: the case already had an invitation; this is a reprint of the same slip.
    $('create-note').textContent = status === 200 ? 'Hồ sơ ' + inv.caseCode + ' đã có phiếu từ trước: đây là bản in lại của phiếu đó (cùng mã ' + formatCode(inv.code) + ').' : 'Đã tạo phiếu cho hồ sơ ' + inv.caseCode + '.';
    for (const id of ['caseCode', 'procedure', 'phone']) $(id).value = '';
    $('respondentType').value = '';
    $('submittedVia').value = '';
    await refresh();
  } catch (e) {
    $('create-error').textContent = say(e);
  }
}

async function showSlip(inv) {
  const unit = state.campaign.units.find((u) => u.code === inv.unit);
  const svg = (await call('GET', '/api/invitations/' + inv.id + '/qr.svg')).data;
  const code = formatCode(inv.code);
  $('slip-org').textContent = state.campaign.organization || '';
  $('slip-unit').textContent = unit ? unit.name : inv.unit;
  $('slip-case').textContent = 'Hồ sơ: ' + inv.caseCode;
  $('slip-qr').innerHTML = svg;
  $('slip-code').textContent = code;
  const chats = state.campaign.channels.map((c) => 'gửi mã ' + code + ' tới ' + c.handle + ' trên ' + c.title).join(', hoặc ');
  $('slip-help').textContent = 'Quét mã QR' + (chats ? ', hoặc ' + chats : '') + ' để đánh giá mức độ hài lòng (2-3 phút). Câu trả lời được giữ kín.';
  $('slip-card').hidden = false;
}

async function refresh() {
  const unit = $('unit').value;
  const { invitations } = (await call('GET', '/api/invitations?unit=' + encodeURIComponent(unit))).data;
  $('today').innerHTML = invitations.length
    ? invitations.map((i) => '<tr data-id="' + esc(i.id) + '"><td>' + esc(i.caseCode) + '</td><td class="code-cell">' + esc(formatCode(i.code)) + '</td><td class="status">' + esc(STATUS[i.status] || i.status) + '</td><td>' + new Date(i.createdAt).toLocaleTimeString('vi-VN') + '</td></tr>').join('')
    : '<tr><td colspan="4" class="muted">Chưa có phiếu nào hôm nay.</td></tr>';
}

$('signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value); });
$('create-form').addEventListener('submit', create);
$('unit').addEventListener('change', () => { fillFields(); refresh(); });
$('field').addEventListener('change', fillProcedures);
$('print').addEventListener('click', () => { document.body.dataset.slip = $('size').value; window.print(); });
$('size').addEventListener('change', () => { document.body.dataset.slip = $('size').value; });
$('refresh').addEventListener('click', refresh);
$('signout').addEventListener('click', () => { sessionStorage.removeItem('officerKey'); location.reload(); });
if (state.key) signIn(state.key);
`;

// A6 is 105 x 148 mm: the slip fits inside the page margins, so the printout is one page.
const STYLE = `<style>
  #slip { background: #fff; border: 1px dashed #999; padding: 4mm; text-align: center; margin: 0 auto; box-sizing: border-box; overflow: hidden; }
  body[data-slip="a6"] #slip { width: 97mm; height: 138mm; }
  body[data-slip="receipt"] #slip { width: 72mm; }
  #slip-title { font-weight: 700; font-size: 1rem; letter-spacing: .02em; }
  #slip-org { font-size: .8rem; }
  #slip-qr svg { width: 52mm; height: 52mm; }
  body[data-slip="receipt"] #slip-qr svg { width: 50mm; height: 50mm; }
  #slip-unit { font-weight: 700; font-size: .95rem; } #slip-code { font: 700 1.6rem ui-monospace, monospace; letter-spacing: .12em; }
  #slip-help { font-size: .8rem; margin: 2mm 0 0; }
  @media print {
    body { background: #fff; } main { padding: 0; } main > h1, #signin, #work > section:not(#slip-card) { display: none !important; }
    #slip-card { box-shadow: none; padding: 0; margin: 0; } #slip-card > *:not(#slip) { display: none !important; }
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
    <p class="error" id="signin-error" role="alert"></p>
    <p class="muted">Chưa có khóa? Quản trị hệ thống tạo bằng lệnh <code>npm run admin -- keys:create --role officer --unit &lt;mã đơn vị&gt;</code>.</p>
  </form>
</section>
<div id="work" hidden>
  <section class="card" id="warnings" hidden></section>
  <section class="card">
    <div><strong id="who"></strong> <button class="btn" type="button" id="signout">Đăng xuất</button></div>
    <form id="create-form">
      <label for="unit">Đơn vị</label><select id="unit"></select>
      <label for="caseCode">Mã hồ sơ</label><input id="caseCode" required maxlength="64" placeholder="VD: 000.00.00.H52-240612-0001">
      <label for="field">Lĩnh vực</label><select id="field"></select>
      <label for="procedure">Thủ tục (chọn trong danh mục hoặc gõ; không bắt buộc)</label><input id="procedure" list="procedures" maxlength="300"><datalist id="procedures"></datalist>
      <label for="submittedVia">Hình thức nộp hồ sơ</label>
      <select id="submittedVia"><option value="">Không ghi</option><option value="direct">Trực tiếp</option><option value="online">Dịch vụ công trực tuyến</option><option value="postal">Bưu chính công ích</option></select>
      <label for="handedBackOn">Ngày trả kết quả</label><input id="handedBackOn" type="date">
      <label for="respondentType">Người đến làm thủ tục</label>
      <select id="respondentType"><option value="">Không ghi</option><option value="citizen">Người dân</option><option value="organization">Đại diện tổ chức, doanh nghiệp</option></select>
      <label for="phone">Số điện thoại (không bắt buộc, để hậu kiểm)</label><input id="phone" inputmode="tel" maxlength="15">
      <p><button class="btn primary" type="submit" id="create">Tạo phiếu</button></p>
      <p class="error" id="create-error" role="alert"></p>
      <p id="create-note" role="status"></p>
    </form>
  </section>
  <section class="card" id="slip-card" hidden>
    <div id="slip">
      <div id="slip-title">PHIẾU KHẢO SÁT SỰ HÀI LÒNG</div>
      <div id="slip-org"></div>
      <div id="slip-unit"></div><div id="slip-case"></div><div id="slip-qr"></div><div id="slip-code"></div><p id="slip-help"></p>
    </div>
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
  const html = page('Phiếu khảo sát - Cán bộ một cửa', `${BODY}<script src="/assets/officer.js" defer></script>`, STYLE).replace(
    '<body>',
    '<body data-slip="a6">',
  );
  r.get('/assets/officer.js', (_req, res) => void res.type('text/javascript').set('cache-control', 'no-cache').send(SCRIPT));
  r.get('/officer', (_req, res) => {
    res.set('cache-control', 'no-store').type('html').send(html);
  });
  return r;
}
