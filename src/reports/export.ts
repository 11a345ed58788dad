// Reports as files: CSV (one section per table, UTF-8 with a BOM for
// spreadsheet programs) and XLSX (one sheet per table, numbers as numbers,
// landscape and fitted to the page width for printing).
import ExcelJS from 'exceljs';
import type { Campaign } from '../invitations/campaign.js';
import { type Column, columnsOf, TABLE_TITLES } from './columns.js';

export type Table = Array<Record<string, unknown>>;

const csvCell = (v: unknown) => (typeof v === 'number' ? String(v) : `"${String(v ?? '').replace(/"/g, '""')}"`);

/** Extra columns a table carries beyond its configured ones (the per-ballot answers). */
const withExtra = (columns: Column[], extra: Column[] = []) => [...columns, ...extra];

export function toCsv(campaign: Campaign, tables: Record<string, Table>, extra: Record<string, Column[]> = {}): string {
  const out: string[] = [];
  for (const [name, rows] of Object.entries(tables)) {
    const columns = withExtra(columnsOf(campaign, name), extra[name]);
    if (Object.keys(tables).length > 1) out.push(csvCell(TABLE_TITLES[name] ?? name));
    out.push(columns.map((c) => csvCell(c.title)).join(','));
    for (const row of rows) out.push(columns.map((c) => csvCell(row[c.key])).join(','));
    out.push('');
  }
  return `\ufeff${out.join('\r\n')}`;
}

export async function toXlsx(campaign: Campaign, title: string, tables: Record<string, Table>, extra: Record<string, Column[]> = {}): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.title = title;
  for (const [name, rows] of Object.entries(tables)) {
    // Sheet names: at most 31 characters, none of : \ / ? * [ ].
    const sheet = book.addWorksheet((TABLE_TITLES[name] ?? name).replace(/[:\\/?*[\]]/g, ' ').slice(0, 31), {
      pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, paperSize: 9 },
    });
    const columns = withExtra(columnsOf(campaign, name), extra[name]);
    sheet.columns = columns.map((c) => ({ key: c.key, header: c.title, width: Math.min(60, Math.max(10, c.title.length + 2)) }));
    for (const row of rows) sheet.addRow(Object.fromEntries(columns.map((c) => [c.key, row[c.key] ?? null])));
    sheet.getRow(1).font = { bold: true };
    sheet.views = [{ state: 'frozen', ySplit: 1 }];
    sheet.pageSetup.printTitlesRow = '1:1';
  }
  return Buffer.from(await book.xlsx.writeBuffer());
}
