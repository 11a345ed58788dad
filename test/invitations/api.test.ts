import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_ALPHABET } from '../../src/invitations/codes.js';
import { api, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
let pc06: string;
let pc07: string;
let pv01: string;
let admin: string;

beforeAll(async () => {
  t = await startTestService({ name: 'invitations_api', env: { TELEGRAM_BOT_USERNAME: 'tthc_test_bot', ZALO_OA_ID: '1234567890' }, workers: false });
  [pc06, pc07, pv01, admin] = await Promise.all([t.key('officer', 'PC06'), t.key('officer', 'PC07'), t.key('pv01'), t.key('admin')]);
});
afterAll(() => t.close());

const create = (key: string, body: unknown) => api(t.baseUrl, key, 'POST', '/api/invitations', body);

describe('API keys', () => {
  it('401 without a key or with a wrong one; 403 with the wrong role', async () => {
    expect((await api(t.baseUrl, undefined, 'GET', '/api/campaigns/current')).status).toBe(401);
    const wrong = await api(t.baseUrl, `${pc06.slice(0, 13)}${'x'.repeat(32)}`, 'GET', '/api/campaigns/current');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    const pv = await create(pv01, { caseCode: 'K-1', unit: 'PC06', field: 'con-dau' });
    expect(pv.status).toBe(403);
  });
});

describe('unknown routes', () => {
  it('answer 404 in the JSON error shape', async () => {
    for (const path of ['/nope', '/api/nope', '/webhooks/zalo']) {
      const r = await api(t.baseUrl, admin, 'GET', path);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code, path).toMatch(/not_found|channel_disabled/);
    }
  });
});

describe('GET /api/campaigns/current', () => {
  it('lists the running campaign units and fields with names', async () => {
    const r = await api(t.baseUrl, pc06, 'GET', '/api/campaigns/current');
    expect(r.status).toBe(200);
    expect(r.body.id).toBe('soc-trang-2024');
    expect(r.body.units).toHaveLength(19);
    expect(r.body.units.find((u: { code: string }) => u.code === 'PC06')).toEqual({
      code: 'PC06',
      name: 'Phòng Cảnh sát quản lý hành chính về trật tự xã hội (PC06)',
      parent: 'CATST',
      fields: [
        { code: 'nganh-nghe', name: 'Quản lý ngành, nghề đầu tư, kinh doanh có điều kiện về an ninh, trật tự', procedures: [] },
        { code: 'con-dau', name: 'Đăng ký, quản lý con dấu', procedures: [] },
        { code: 'vu-khi', name: 'Quản lý vũ khí, vật liệu nổ, công cụ hỗ trợ và pháo', procedures: [] },
        {
          code: 'can-cuoc',
          name: 'Cấp, quản lý căn cước công dân',
          procedures: [
            { code: 'cc-cap-moi', name: 'Cấp thẻ căn cước' },
            { code: 'cc-cap-doi', name: 'Cấp đổi thẻ căn cước' },
            { code: 'cc-cap-lai', name: 'Cấp lại thẻ căn cước' },
          ],
        },
      ],
    });
  });
});

describe('POST /api/invitations', () => {
  it('creates once per case: the same case code returns the existing invitation', async () => {
    const first = await create(pc06, { caseCode: 'CD-2024-0001', unit: 'PC06', field: 'con-dau', procedure: 'Đăng ký mẫu con dấu mới', phone: '0912 345 678' });
    expect(first.status).toBe(201);
    const inv = first.body;
    expect(Object.keys(inv).sort()).toEqual(['caseCode', 'code', 'createdAt', 'expiresAt', 'field', 'id', 'kind', 'links', 'qrUrl', 'status', 'token', 'unit']);
    expect(inv.status).toBe('created');
    expect(inv.code).toMatch(new RegExp(`^[${CODE_ALPHABET}]{8}$`));
    expect(inv.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(inv.links).toEqual({
      telegram: `https://t.me/tthc_test_bot?start=${inv.token}`,
      zalo: 'https://zalo.me/1234567890',
      landing: `http://survey.test/s/${inv.token}`,
    });
    expect(inv.qrUrl).toBe(`http://survey.test/api/invitations/${inv.id}/qr.svg`);
    expect(Date.parse(inv.expiresAt) - Date.parse(inv.createdAt)).toBe(14 * 86_400_000);

    const again = await create(pc06, { caseCode: 'CD-2024-0001', unit: 'PC06', field: 'con-dau' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(inv);

    // The phone is stored encrypted, never in clear.
    const doc = await t.service.db.models.Invitation.findById(inv.id).lean();
    expect(doc!.phoneEnc).toBeTruthy();
    expect(JSON.stringify(doc)).not.toContain('912345678');

    const log = await t.service.db.models.AuditLog.find({ target: inv.id }).lean();
    expect(log.map((l) => l.action)).toEqual(['invitation.create']);
  });

  it('concurrent creation of one case yields one invitation', async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, () => create(pc06, { caseCode: 'RACE-1', unit: 'PC06', field: 'vu-khi' })));
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    expect(rs.filter((r) => r.status === 201)).toHaveLength(1);
  });

  it('validates the body and names the field; changes nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ unit: 'PC06', field: 'con-dau' }, /caseCode/],
      [{ caseCode: 'A 1', unit: 'PC06', field: 'con-dau' }, /caseCode: letters, digits/],
      [{ caseCode: 'A1', unit: 'PC06', field: 'con-dau', extra: 1 }, /unknown field\(s\): extra/],
      [{ caseCode: 'A1', unit: 'PC06', field: 'con-dau', phone: '12345' }, /phone: a Vietnamese phone number/],
      [{ caseCode: 'A1', unit: 'PC06', field: 'con-dau', respondentType: 'robot' }, /respondentType/],
      [{ caseCode: 'A1', unit: 'PC06', field: 'pccc' }, /field: unit PC06 does not handle field "pccc"/],
      [{ caseCode: 'A1', unit: 'ZZ', field: 'pccc' }, /unit: unknown unit "ZZ"/],
    ];
    for (const [body, msg] of cases) {
      const r = await create(pc06, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(msg);
    }
    expect(await t.service.db.models.Invitation.countDocuments({ caseCode: 'A1' })).toBe(0);
    const bad = await fetch(`${t.baseUrl}/api/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pc06}`, 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(bad.status).toBe(400);
  });
});

describe('scope', () => {
  it('an officer of PC06 can neither create for nor see PC07', async () => {
    const r = await create(pc06, { caseCode: 'PCCC-1', unit: 'PC07', field: 'pccc' });
    expect(r.status).toBe(403);
    const own = (await create(pc07, { caseCode: 'PCCC-2', unit: 'PC07', field: 'pccc' })).body;
    for (const path of [`/api/invitations/${own.id}`, `/api/invitations/${own.id}/qr.svg`]) {
      expect((await api(t.baseUrl, pc06, 'GET', path)).status).toBe(404);
    }
    expect((await api(t.baseUrl, pc06, 'POST', `/api/invitations/${own.id}/cancel`)).status).toBe(404);
    expect((await api(t.baseUrl, pc06, 'GET', '/api/invitations?unit=PC07')).status).toBe(403);
    // Case codes are unique within a unit: the same code in PC06 is PC06's own case, and says nothing about PC07's.
    const mine = await create(pc06, { caseCode: 'PCCC-2', unit: 'PC06', field: 'con-dau' });
    expect(mine.status).toBe(201);
    expect(mine.body.id).not.toBe(own.id);
    // PV01 and admin see every unit.
    expect((await api(t.baseUrl, pv01, 'GET', `/api/invitations/${own.id}`)).body.status).toBe('created');
    expect((await api(t.baseUrl, admin, 'GET', `/api/invitations/${own.id}`)).status).toBe(200);
  });
});

describe('status, QR and cancel', () => {
  it('serves the QR code of the landing link as SVG and PNG', async () => {
    const inv = (await create(pc06, { caseCode: 'QR-1', unit: 'PC06', field: 'can-cuoc' })).body;
    const svg = await api(t.baseUrl, pc06, 'GET', `/api/invitations/${inv.id}/qr.svg`);
    expect(svg.headers.get('content-type')).toMatch(/image\/svg\+xml/);
    expect(svg.body).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    const png = await fetch(`${t.baseUrl}/api/invitations/${inv.id}/qr.png`, { headers: { authorization: `Bearer ${pc06}` } });
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
  });

  it("cancels (case reopened), logs it, and lists today's invitations", async () => {
    const inv = (await create(pc06, { caseCode: 'CAN-1', unit: 'PC06', field: 'can-cuoc' })).body;
    const c = await api(t.baseUrl, pc06, 'POST', `/api/invitations/${inv.id}/cancel`);
    expect(c.body.status).toBe('cancelled');
    expect((await api(t.baseUrl, pc06, 'GET', `/api/invitations/${inv.id}`)).body.status).toBe('cancelled');
    expect(await t.service.db.models.AuditLog.countDocuments({ target: inv.id, action: 'invitation.cancel' })).toBe(1);
    const list = await api(t.baseUrl, pc06, 'GET', '/api/invitations');
    expect(list.body.invitations.map((i: { caseCode: string }) => i.caseCode)).toContain('CAN-1');
    expect(list.body.invitations.every((i: { unit: string }) => i.unit === 'PC06')).toBe(true);
  });
});

describe('campaign data through the admin API', () => {
  it('only an admin edits; a bad campaign is refused with the path; a good one is live at once', async () => {
    const current = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
    expect(current.units).toHaveLength(19);
    const { active: _active, ...campaign } = current;
    expect((await api(t.baseUrl, pc06, 'PUT', '/api/admin/campaigns/soc-trang-2024', campaign)).status).toBe(403);

    const bad = await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', {
      ...campaign,
      units: [{ code: 'X1', name: 'X', fields: ['nope'] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('units.0.fields.0: unknown field "nope"');
    const badFlow = await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', { ...campaign, flows: { citizen: 'citizen-satisfaction@9' } });
    expect(badFlow.body.error.message).toContain('unknown flow "citizen-satisfaction@9"');

    const edited = { ...campaign, units: [...campaign.units, { code: 'CLD2', name: 'Công an xã An Thạnh 2', parent: 'HCLD', fields: ['cu-tru'] }] };
    expect((await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', edited)).status).toBe(200);
    const live = await api(t.baseUrl, pc06, 'GET', '/api/campaigns/current');
    expect(live.body.units.map((u: { code: string }) => u.code)).toContain('CLD2');
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'campaign.update', target: 'soc-trang-2024' })).toBe(1);
  });
});
