// GET /ket-qua/:campaign: the results PV01 published, for everyone ("công khai,
// minh bạch"): per unit the satisfaction rate, the points and N. Nothing before
// publication; never comments; a unit with too few ballots shows no figure.
import { Router } from 'express';
import type { Models } from '../../db.js';
import type { Campaign } from '../../invitations/campaign.js';
import { barChart } from './charts.js';
import { esc, page } from './html.js';

interface PublishedRow {
  name: string;
  n: number;
  rate: number | null;
  points: number | null;
}

export function resultsRoutes(models: Models): Router {
  const r = Router();
  r.get('/ket-qua/:campaign', async (req, res) => {
    const id = String(req.params.campaign);
    const [pub, doc] = /^[A-Za-z0-9_-]{2,32}$/.test(id)
      ? await Promise.all([models.Publication.findById(id).lean(), models.Campaign.findById(id).lean()])
      : [null, null];
    if (!pub || !doc) {
      res
        .status(404)
        .type('html')
        .send(page('Chưa công bố', '<h1>Chưa có kết quả được công bố</h1><p>Kết quả đo lường sẽ được đăng tại đây khi được công bố.</p>'));
      return;
    }
    const c = doc.data as Campaign;
    const rows = pub.rows as PublishedRow[];
    const table = rows
      .map(
        (u) =>
          `<tr><td>${esc(u.name)}</td><td>${u.rate === null ? 'Chưa đủ số phiếu' : u.rate.toFixed(2)}</td><td>${u.points === null ? '—' : u.points.toFixed(2)}</td><td>${u.n}</td></tr>`,
      )
      .join('');
    res
      .set('cache-control', 'public, max-age=300')
      .type('html')
      .send(
        page(
          `Kết quả - ${c.name}`,
          `<h1>${esc(c.name)}</h1><p class="muted">${esc(c.organization)} công bố ngày ${esc(pub.at.toISOString().slice(0, 10).split('-').reverse().join('/'))}</p>
<section class="card">${barChart(
            'Chỉ số hài lòng (%)',
            rows.map((u) => ({ label: u.name, value: u.rate, note: 'chưa đủ số phiếu' })),
          )}</section>
<section class="card"><table><thead><tr><th>Đơn vị</th><th>Chỉ số hài lòng (%)</th><th>Điểm</th><th>Số phiếu</th></tr></thead><tbody>${table}</tbody></table></section>`,
        ),
      );
  });
  return r;
}
