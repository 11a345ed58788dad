// GET /s/<token>: where the QR code of the slip leads. Offers Zalo (with the
// code to send), Telegram (deep link) and, later, answering in the browser.
import { Router } from 'express';
import { formatCode } from '../../invitations/codes.js';
import type { Invitations } from '../../invitations/invitations.js';
import { esc, page } from './html.js';

const CLOSED: Record<string, string> = {
  completed: 'Phiếu khảo sát này đã được trả lời. Xin cảm ơn ông/bà!',
  expired: 'Phiếu khảo sát này đã hết hạn.',
  cancelled: 'Phiếu khảo sát này đã bị hủy.',
};

export function landingRoutes(invitations: Invitations): Router {
  const r = Router();
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
    const zalo = view.links.zalo
      ? `<div class="card" id="zalo"><h2>Trả lời qua Zalo</h2>
<p>Mở Zalo, rồi gửi mã sau vào khung chat của Công an tỉnh:</p>
<div class="code" id="code">${esc(code)}</div>
<p><button class="btn" type="button" id="copy">Sao chép mã</button> <a class="btn zalo" href="${esc(view.links.zalo)}">Mở Zalo</a></p></div>`
      : '';
    const telegram = view.links.telegram
      ? `<div class="card" id="telegram"><h2>Trả lời qua Telegram</h2><p><a class="btn telegram" href="${esc(view.links.telegram)}">Mở Telegram</a></p></div>`
      : '';
    // Leave room for the browser channel (a coming issue).
    const web = `<div class="card" id="web"><h2>Trả lời ngay trên trình duyệt</h2><p><button class="btn" disabled>Sắp có</button></p></div>`;
    const fallback = zalo ? '' : `<div class="card">Mã khảo sát của ông/bà: <div class="code">${esc(code)}</div></div>`;
    const script = `<script>document.getElementById('copy')?.addEventListener('click',function(){navigator.clipboard&&navigator.clipboard.writeText(${JSON.stringify(view.code)});this.textContent='Đã sao chép';});</script>`;
    res
      .type('html')
      .send(
        page(
          'Khảo sát sự hài lòng',
          `${head}${zalo}${telegram}${fallback}${web}<p class="muted">Khảo sát mất khoảng 2-3 phút. Câu trả lời được giữ kín.</p>${script}`,
        ),
      );
  });
  return r;
}
