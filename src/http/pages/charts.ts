// Horizontal bar charts as inline SVG: server-rendered, no script, no library.
import { esc } from './html.js';

export interface Bar {
  label: string;
  /** 0-100, or null for "no figure". */
  value: number | null;
  note?: string;
}

export function barChart(title: string, bars: Bar[]): string {
  const rowH = 26;
  const labelW = 320;
  const barW = 360;
  const h = bars.length * rowH + 30;
  const rows = bars.map((b, i) => {
    const y = 24 + i * rowH;
    const w = b.value === null ? 0 : Math.max(1, Math.round((b.value / 100) * barW));
    const shown = b.value === null ? (b.note ?? '—') : b.value.toFixed(2);
    const label = b.label.length > 44 ? `${b.label.slice(0, 43)}…` : b.label;
    return `<text x="0" y="${y + 15}" font-size="12">${esc(label)}</text><rect x="${labelW}" y="${y + 3}" width="${w}" height="16" fill="${b.value === null ? '#ccc' : b.value >= 80 ? '#2e7d32' : b.value >= 60 ? '#f9a825' : '#c62828'}"/><text x="${labelW + w + 6}" y="${y + 15}" font-size="12">${esc(shown)}</text>`;
  });
  return `<figure><svg role="img" aria-label="${esc(title)}" viewBox="0 0 ${labelW + barW + 80} ${h}" width="100%" xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" font-size="14" font-weight="700">${esc(title)}</text>${rows.join('')}</svg></figure>`;
}
