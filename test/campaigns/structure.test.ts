// Units as a tree (the 2024 three-level and the 2025 two-level shape), quotas
// passed down by ratio, the CSV import, and officer keys scoped to sub-units.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateQuotas, type Campaign, campaignSchema, loadCampaignFiles, unitAndBelow } from '../../src/invitations/campaign.js';
import { importUnits, UnitImportError } from '../../src/invitations/unit-import.js';
import { projectRoot } from '../../src/local/paths.js';
import { api, startTestService, type TestService } from '../helpers/context.js';

const campaigns = loadCampaignFiles(join(projectRoot, 'campaigns'));
const c2024 = campaigns.find((c) => c.id === 'soc-trang-2024')!;
const c2025 = campaigns.find((c) => c.id === 'can-tho-2025')!;
const quota = (c: Campaign, unit: string, field: string) => allocateQuotas(c).find((q) => q.unit === unit && q.field === field);
const depth = (c: Campaign, unit: string): number => {
  const u = c.units.find((x) => x.code === unit)!;
  return u.parent ? 1 + depth(c, u.parent) : 1;
};

describe('the campaign files', () => {
  it('2024 has three levels: province police > districts > communes', () => {
    expect(Math.max(...c2024.units.map((u) => depth(c2024, u.code)))).toBe(3);
    expect([...unitAndBelow(c2024, 'HKS')].sort()).toEqual(['HKS', 'KS-ALT', 'KS-BT', 'KS-TT']);
    expect(unitAndBelow(c2024, 'CATST').size).toBe(c2024.units.length);
    expect([...unitAndBelow(c2024, 'KS-TT')]).toEqual(['KS-TT']);
  });

  it('2025 has two levels: communes and wards directly under the city police', () => {
    expect(Math.max(...c2025.units.map((u) => depth(c2025, u.code)))).toBe(2);
    expect(c2025.units.find((u) => u.code === 'P-SOC-TRANG')!.parent).toBe('CATPCT');
    expect(c2025.flows.citizen).toBe('citizen-satisfaction@2');
  });

  it('a district passes its share to the communes handling the field; the shares add up', () => {
    // 30 per field; Kế Sách passes 30% = 9 of its residence ballots to its three communes.
    expect(quota(c2024, 'HKS', 'cu-tru')).toEqual({ unit: 'HKS', field: 'cu-tru', quota: 30, received: 0, passedDown: 9, target: 21 });
    for (const commune of ['KS-TT', 'KS-ALT', 'KS-BT']) expect(quota(c2024, commune, 'cu-tru')).toMatchObject({ quota: 3, received: 3, target: 3 });
    // No commune handles passports: the district keeps all of it.
    expect(quota(c2024, 'HKS', 'xnc')).toMatchObject({ passedDown: 0, target: 30 });
    // A district without communes in the file keeps its whole target.
    expect(quota(c2024, 'HTD', 'cu-tru')).toMatchObject({ passedDown: 0, target: 30 });
    expect(quota(c2025, 'PC06', 'can-cuoc')).toMatchObject({ quota: 50, target: 50 });
    expect(quota(c2025, 'X-KE-SACH', 'cu-tru')).toMatchObject({ quota: 30, target: 30 });
  });

  it('splits by weight, largest remainder first, at any depth', () => {
    const c = campaignSchema.parse({
      ...c2025,
      units: [
        { code: 'ROOT', name: 'Tỉnh', fields: ['cu-tru'], passDown: 0.5 },
        { code: 'D1', name: 'Huyện 1', parent: 'ROOT', fields: ['cu-tru'], passDown: 0.5, weight: 2 },
        { code: 'D2', name: 'Huyện 2', parent: 'ROOT', fields: ['cu-tru'] },
        { code: 'C1', name: 'Xã 1', parent: 'D1', fields: ['cu-tru'] },
        { code: 'C2', name: 'Xã 2', parent: 'D1', fields: ['cu-tru'] },
        { code: 'C3', name: 'Xã 3', parent: 'D1', fields: ['cu-tru'] },
      ],
      agencies: [],
      quotas: { default: 40, byUnitField: {} },
    });
    const t = (u: string) => quota(c, u, 'cu-tru')!;
    // ROOT 40 -> passes 20: D1 (weight 2) 13.33 -> 13, D2 6.67 -> 7.
    expect([t('ROOT').target, t('D1').quota, t('D2').quota]).toEqual([20, 13, 7]);
    // D1 13 -> passes round(6.5) = 7 over three communes: 3, 2, 2.
    expect([t('D1').target, t('C1').quota, t('C2').quota, t('C3').quota]).toEqual([6, 3, 2, 2]);
  });

  it('a parent that does not exist, or a loop, is refused with its place', () => {
    const bad = campaignSchema.safeParse({
      ...c2025,
      units: [
        ...c2025.units,
        { code: 'A1', name: 'A', parent: 'B1', fields: [] },
        { code: 'B1', name: 'B', parent: 'A1', fields: [] },
        { code: 'C1', name: 'C', parent: 'NOPE', fields: [] },
      ],
    });
    expect(bad.success).toBe(false);
    const messages = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toContain('units.11.parent: unknown parent unit "NOPE"');
    expect(messages.some((m) => /units\.9\.parent: units A1 > B1 form a loop/.test(m))).toBe(true);
  });
});

describe('units:import', () => {
  it('adds the communes of a district (three levels) with their share', () => {
    const csv = ['code,name,parent,fields', 'TT-PHU-LOC,Công an thị trấn Phú Lộc,HTT,cu-tru can-cuoc', 'X-THANH-TRI,Công an xã Thạnh Trị,HTT,cu-tru', ''].join(
      '\n',
    );
    const r = importUnits(c2024, csv);
    expect(r.added).toEqual(['TT-PHU-LOC', 'X-THANH-TRI']);
    expect(quota(r.campaign, 'HTT', 'cu-tru')).toMatchObject({ passedDown: 9, target: 21 });
    expect(quota(r.campaign, 'TT-PHU-LOC', 'cu-tru')).toMatchObject({ quota: 5 });
    expect(quota(r.campaign, 'X-THANH-TRI', 'cu-tru')).toMatchObject({ quota: 4 });
    expect(quota(r.campaign, 'TT-PHU-LOC', 'can-cuoc')).toMatchObject({ quota: 9 });
    expect(unitAndBelow(r.campaign, 'HTT').size).toBe(3);
  });

  it('adds wards under the city police (two levels) and updates a unit already there, in any order', () => {
    // A ward whose parent comes later in the file, semicolons between columns, a BOM.
    const csv = '\ufeffcode;name;parent;fields\nP-MOI;Công an phường Mới;CATPCT;cu-tru|can-cuoc\nX-KE-SACH;Công an xã Kế Sách (đổi tên);CATPCT;cu-tru\n';
    const r = importUnits(c2025, csv);
    expect(r.added).toEqual(['P-MOI']);
    expect(r.updated).toEqual(['X-KE-SACH']);
    expect(r.campaign.units.find((u) => u.code === 'X-KE-SACH')).toMatchObject({ name: 'Công an xã Kế Sách (đổi tên)', fields: ['cu-tru'] });
    expect(r.campaign.units.find((u) => u.code === 'P-MOI')!.fields).toEqual(['cu-tru', 'can-cuoc']);
    expect(Math.max(...r.campaign.units.map((u) => depth(r.campaign, u.code)))).toBe(2);
  });

  it('reports every bad line by its number and imports nothing', () => {
    const csv = [
      'code,name,parent,fields,passDown',
      'OK-1,Công an xã Một,CATPCT,cu-tru,',
      'bad code!,Tên,CATPCT,cu-tru,',
      'OK-2,,CATPCT,cu-tru,',
      'OK-3,Công an xã Ba,NOWHERE,cu-tru,',
      'OK-4,Công an xã Bốn,CATPCT,xe-dap,',
      'OK-1,Công an xã Một lần nữa,CATPCT,cu-tru,',
      'OK-5,Công an xã Năm,CATPCT,cu-tru,1.5',
    ].join('\n');
    let err: UnitImportError | undefined;
    try {
      importUnits(c2025, csv);
    } catch (e) {
      err = e as UnitImportError;
    }
    expect(err).toBeInstanceOf(UnitImportError);
    expect(err!.problems).toEqual([
      'line 3: code "bad code!" must be 2-32 characters of A-Z a-z 0-9 _ -',
      'line 4: name is empty',
      'line 5: parent "NOWHERE" is neither in the campaign nor in the file',
      `line 6: unknown field "xe-dap" (fields: ${c2025.fields.map((f) => f.code).join(', ')})`,
      'line 7: code OK-1 is already on line 2',
      'line 8: passDown "1.5" must be a share between 0 and 1',
    ]);
  });

  it('refuses a loop made through the file, and a file without the columns', () => {
    expect(() => importUnits(c2025, 'code,name,parent,fields\nA1,A,B1,\nB1,B,A1,\n')).toThrow(/line 2: units A1 > B1 form a loop/);
    expect(() => importUnits(c2025, 'ma,ten\nA1,A\n')).toThrow(/line 1: missing column\(s\) code, name, parent, fields/);
    expect(() => importUnits(c2025, '')).toThrow(/no units/);
  });
});

describe('officer keys and sub-units', () => {
  let t: TestService;
  let district: string;
  let districtOnly: string;
  let commune: string;
  beforeAll(async () => {
    t = await startTestService({ name: 'units_scope', workers: false });
    [district, districtOnly, commune] = await Promise.all([t.key('officer', 'HKS', true), t.key('officer', 'HKS'), t.key('officer', 'KS-TT')]);
  });
  afterAll(() => t.close());
  const create = (key: string, unit: string, caseCode: string) => api(t.baseUrl, key, 'POST', '/api/invitations', { caseCode, unit, field: 'cu-tru' });

  it('a district leader works for its communes; a commune officer only for its own', async () => {
    expect((await api(t.baseUrl, district, 'GET', '/api/me')).body).toEqual({
      role: 'officer',
      unit: 'HKS',
      subUnits: true,
      units: ['HKS', 'KS-TT', 'KS-ALT', 'KS-BT'],
    });
    expect((await api(t.baseUrl, commune, 'GET', '/api/me')).body.units).toEqual(['KS-TT']);

    const byDistrict = await create(district, 'KS-TT', 'SCOPE-1');
    expect(byDistrict.status).toBe(201);
    const byCommune = await create(commune, 'KS-TT', 'SCOPE-2');
    expect(byCommune.status).toBe(201);
    const ofDistrict = await create(district, 'HKS', 'SCOPE-3');
    expect(ofDistrict.status).toBe(201);

    // The district key sees the commune's invitations; the commune key does not see the district's.
    expect((await api(t.baseUrl, district, 'GET', `/api/invitations/${byCommune.body.id}`)).status).toBe(200);
    expect((await api(t.baseUrl, district, 'GET', '/api/invitations?unit=KS-TT')).body.invitations).toHaveLength(2);
    expect((await api(t.baseUrl, commune, 'GET', `/api/invitations/${ofDistrict.body.id}`)).status).toBe(404);
    expect((await api(t.baseUrl, commune, 'GET', '/api/invitations?unit=HKS')).status).toBe(403);

    // Without --sub-units a district key is for the district alone; no key reaches a sibling district.
    expect((await create(districtOnly, 'KS-TT', 'SCOPE-4')).status).toBe(403);
    expect((await create(district, 'HTT', 'SCOPE-5')).status).toBe(403);
    expect((await api(t.baseUrl, districtOnly, 'GET', `/api/invitations/${byCommune.body.id}`)).status).toBe(404);
  });

  it('each key sees the targets of the units it covers', async () => {
    const { quotas } = (await api(t.baseUrl, district, 'GET', '/api/campaigns/current/quotas')).body as {
      quotas: Array<{ unit: string; field: string; target: number }>;
    };
    expect(new Set(quotas.map((q) => q.unit))).toEqual(new Set(['HKS', 'KS-TT', 'KS-ALT', 'KS-BT']));
    expect(quotas.find((q) => q.unit === 'HKS' && q.field === 'cu-tru')!.target).toBe(21);
    const pv01 = await t.key('pv01');
    expect((await api(t.baseUrl, pv01, 'GET', '/api/campaigns/current/quotas')).body.quotas.length).toBe(allocateQuotas(c2024).length);
  });
});
