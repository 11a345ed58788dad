// GET /s/<token>: where the QR code of the slip leads. Offers each chat
// channel with a start link (a deep link, or the chat plus the code to send)
// and, later, answering in the browser.
import { Router } from 'express';
import { CHANNEL_PLUGINS } from '../../channels/registry.js';
import { formatCode } from '../../invitations/codes.js';
import type { Invitations } from '../../invitations/invitations.js';
import { esc, page } from './html.js';
import type { WebSession } from './survey.js';

const CLOSED: Record<string, string> = {
  completed: 'Phiếu khảo sát này đã được trả lời. Xin cảm ơn ông/bà!',
  expired: 'Phiếu khảo sát này đã hết hạn.',
  cancelled: 'Phiếu khảo sát này đã bị hủy.',
};

const LANDING_JS = `document.querySelectorAll('.copy').forEach(function (b) {
  b.addEventListener('click', function () {
    if (navigator.clipboard) navigator.clipboard.writeText(b.dataset.code);
    b.textContent = 'Đã sao chép';
  });
});`;

export function landingRoutes(invitations: Invitations, webSession: WebSession): Router {
  const r = Router();
  r.get('/assets/landing.js', (_req, res) => void res.type('text/javascript').set('cache-control', 'public, max-age=3600').send(LANDING_JS));
  r.get('/s/:token', async (req, res) => {
    const inv = await invitations.byToken(String(req.params.token));
    res.set('cache-control', 'no-store').set('x-robots-tag', 'noindex');
    if (!inv) {
      res
        .status(404)
        .type('html')
        .send(
          page(
            'Không tìm thấy phiếu khảo sát',
            `<h1>Không tìm thấy phiếu khảo sát</h1><div class="card">Đường dẫn không đúng. Xin vui lòng quét lại mã QR trên phiếu hẹn trả kết quả.</div>`,
          ),
        );
      return;
    }
    const view = invitations.view(inv);
    const closed = CLOSED[view.status];
    const head = `<h1>Khảo sát sự hài lòng</h1><div class="card"><div>${esc(inv.unitName ?? inv.unit)}</div><div class="muted">Hồ sơ ${esc(inv.caseCode)}</div></div>`;
    if (closed) {
      res.type('html').send(page('Khảo sát sự hài lòng', `${head}<div class="card">${esc(closed)}</div>`));
      return;
    }
    const code = formatCode(view.code);
    let codeShown = false;
    const cards = CHANNEL_PLUGINS.map((p) => {
      const link = view.links[p.name];
      if (!link) return '';
      const button = `<a class="btn primary" href="${esc(link)}">Mở ${esc(p.display.title)}</a>`;
      if (!p.display.sendsCode) return `<div class="card" id="${p.name}"><h2>Trả lời qua ${esc(p.display.title)}</h2><p>${button}</p></div>`;
      codeShown = true;
      return `<div class="card" id="${p.name}"><h2>Trả lời qua ${esc(p.display.title)}</h2>
<p>Mở ${esc(p.display.title)}, rồi gửi mã sau vào khung chat của Công an tỉnh:</p>
<div class="code">${esc(code)}</div>
<p><button class="btn copy" type="button" data-code="${esc(view.code)}">Sao chép mã</button> ${button}</p></div>`;
    }).join('');
    const web = `<div class="card" id="web"><h2>Trả lời ngay trên trình duyệt</h2><p>Không cần Zalo hay Telegram: trả lời từng câu trên trang này.</p>
<form method="post" action="/s/${esc(view.token)}/start">${webSession.fields(req, res)}<button class="btn primary" type="submit">Trả lời ngay trên trình duyệt</button></form></div>`;
    const fallback = codeShown ? '' : `<div class="card">Mã khảo sát của ông/bà: <div class="code">${esc(code)}</div></div>`;
    // No inline script (the Content Security Policy allows none): the copy buttons carry the code.
    const script = '<script src="/assets/landing.js" defer></script>';
    res
      .type('html')
      .send(
        page('Khảo sát sự hài lòng', `${head}${cards}${fallback}${web}<p class="muted">Khảo sát mất khoảng 2-3 phút. Câu trả lời được giữ kín.</p>${script}`),
      );
  });
  return r;
}
