// The printable letters of the agency ballots (A4, one per page): who is asked,
// about which unit and period, and how to answer (QR, link, code on a chat app).

import { dmy } from '../../days.js';
import type { AgencyBallot } from '../../invitations/agency-ballots.js';
import type { Campaign } from '../../invitations/campaign.js';
import { formatCode } from '../../invitations/codes.js';
import { esc, page } from './html.js';

export function agencyLettersPage(
  campaign: Campaign,
  ballots: Array<AgencyBallot & { qrSvg: string }>,
  chats: Array<{ title: string; sendsCode: boolean; handle: string }>,
): string {
  const period = campaign.opinionPeriod ?? campaign.period;
  const byCode = chats.filter((c) => c.sendsCode);
  const letters = ballots.map((b) => {
    const ways = [
      '<li>Quét mã QR bên cạnh bằng điện thoại;</li>',
      `<li>Mở đường dẫn <strong>${esc(b.links.landing)}</strong> và trả lời ngay trên trình duyệt;</li>`,
      ...byCode.map((c) => `<li>Gửi mã <strong>${esc(formatCode(b.code))}</strong> cho ${esc(c.title)} ${esc(c.handle)}.</li>`),
    ].join('');
    return `<section class="letter">
<p class="org">${esc(campaign.organization.toUpperCase())}</p>
<h1>PHIẾU LẤY Ý KIẾN CƠ QUAN, TỔ CHỨC<br>VỀ KẾT QUẢ CẢI CÁCH HÀNH CHÍNH</h1>
<p>Kính gửi: ${b.addressee ? `${esc(b.addressee)}, ` : ''}<strong>${esc(b.agencyName)}</strong></p>
<p>${esc(campaign.organization)} trân trọng đề nghị quý cơ quan cho ý kiến đánh giá kết quả cải cách hành chính của
<strong>${esc(b.unitName)}</strong> trong thời gian từ ngày ${esc(dmy(period.from))} đến ngày ${esc(dmy(period.to))}.</p>
<div class="how"><div class="qr">${b.qrSvg}</div><div><p>Quý cơ quan trả lời bằng một trong các cách sau:</p><ul>${ways}</ul>
<p>Mã phiếu: <span class="code">${esc(formatCode(b.code))}</span></p>
<p class="muted">Phiếu dùng một lần, hạn trả lời đến ngày ${esc(dmy(b.expiresAt.slice(0, 10)))}. Ở mỗi lĩnh vực, nếu không đủ thông tin, xin chọn "Không đủ thông tin để đánh giá".</p></div></div>
</section>`;
  });
  const style = `<style>
  main { max-width: 190mm; } .letter { background: #fff; padding: 12mm; margin-bottom: 1rem; }
  .letter h1 { text-align: center; color: #1a1a1a; font-size: 1.1rem; } .org { font-weight: 700; text-align: center; }
  .how { display: flex; gap: 6mm; align-items: flex-start; } .qr svg { width: 45mm; height: 45mm; }
  .code { font: 700 1.3rem ui-monospace, monospace; letter-spacing: .1em; }
  @media print { body { background: #fff; } .letter { page-break-after: always; margin: 0; } }
</style>`;
  const body = ballots.length ? letters.join('\n') : '<p>Chưa có phiếu lấy ý kiến cơ quan nào. PV01 phát hành bằng POST /api/agency-ballots.</p>';
  return page(`Phiếu lấy ý kiến cơ quan - ${campaign.name}`, body, style);
}
