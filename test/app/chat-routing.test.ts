// The shipped nginx configuration (deploy/nginx/) in front of two web
// processes, as deployed: each chat's updates reach one process, whose copy
// of the conversation is then never behind (no update decided again), for
// Telegram, Zalo and the browser alike; what names no chat is spread.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type NginxHandle, startNginx } from '../../src/local/nginx.js';
import { eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';
import { ZaloEmulator, type ZaloMessage, ZaloUser } from '../helpers/zalo-emulator.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Which web process answered each request of a chat (nginx names it in a header the test adds). */
const servedBy = new Map<string, Set<string>>();
const record = (chat: string, res: Response) => {
  const upstream = res.headers.get('x-upstream') ?? 'none';
  servedBy.set(chat, (servedBy.get(chat) ?? new Set()).add(upstream));
};

/** A Zalo user whose deliveries note which process answered. */
class RoutedZaloUser extends ZaloUser {
  override async post(raw: string, headers: Record<string, string>): Promise<number> {
    const res = await fetch(this.webhookUrl, { method: 'POST', headers, body: raw });
    record(`zalo:${this.userId}`, res);
    return res.status;
  }
}

describe('nginx routing by chat (deploy/nginx)', () => {
  it('sends every update of a chat to one web process, Telegram, Zalo and the browser alike, and spreads the rest', async () => {
    const tg = await new TelegramEmulator().start();
    const zalo = await new ZaloEmulator().start();
    cleanups.push(
      () => tg.stop(),
      () => zalo.stop(),
    );
    const tokens = zalo.issuePair();
    const a: TestService = await startTestService({ name: 'chat_routing', telegramApiRoot: tg.apiRoot, zalo, zaloTokens: tokens });
    cleanups.push(() => a.close());
    const b: TestService = await startTestService({ name: 'chat_routing', telegramApiRoot: tg.apiRoot, zalo, zaloTokens: tokens, sameAs: a, workers: false });
    cleanups.push(() => b.service.close());
    const upstreams = [a, b].map((t) => Number(new URL(t.baseUrl).port));
    const nginx: NginxHandle = await startNginx({
      port: await freePort(),
      upstreams,
      dir: mkdtempSync(join(tmpdir(), 'tthc-nginx-')),
      addHeader: { 'X-Upstream': '$upstream_addr' },
    });
    cleanups.push(() => nginx.stop());

    const invitation = async (i: number) =>
      (await a.service.invitations.create({ caseCode: `ROUTE-${i}`, unit: 'PC07', field: 'pccc', respondentType: 'citizen' }, { keyId: 't', role: 'admin' }))
        .view;

    /** A Telegram respondent through nginx, tapping to the thanks. */
    const telegramSurvey = async (i: number) => {
      const chat = 880_000_000 + i;
      const post = async (url: string, headers: Record<string, string>, body: string) => {
        const res = await fetch(url, { method: 'POST', headers, body });
        record(`telegram:${chat}`, res);
        return { status: res.status, text: await res.text() };
      };
      const u = new TelegramUser(tg, { url: `${nginx.url}/webhooks/telegram`, secret: TEST_SECRET, post }, chat);
      let mark = u.mark();
      expect((await u.send(`/start ${(await invitation(i)).token}`)).status).toBe(200);
      for (let step = 0; step < 30; step++) {
        const m = await eventually(
          async () => u.since(mark).findLast((x) => x.buttons.length > 0 || x.text.includes('cảm ơn')),
          `chat ${chat}'s next question`,
        );
        if (m.text.includes('cảm ơn')) return true;
        mark = u.mark();
        expect((await u.tap(m.buttons.length >= 4 ? 4 : 1, { ...m, buttons: [...m.buttons] })).status).toBe(200);
      }
      return false;
    };

    /** A Zalo respondent through nginx: the code from the slip, then taps. */
    const zaloSurvey = async (i: number) => {
      const u = new RoutedZaloUser(zalo, `${nginx.url}/webhooks/zalo`, `90071992547${String(i).padStart(5, '0')}`);
      let seen = 0;
      expect(await u.send((await invitation(100 + i)).code)).toBe(200);
      for (let step = 0; step < 30; step++) {
        const m: ZaloMessage = await eventually(
          async () =>
            u
              .messages()
              .slice(seen)
              .findLast((x) => x.buttons.length > 0 || x.text.includes('cảm ơn')),
          `Zalo user ${u.userId}'s next question`,
        );
        if (m.text.includes('cảm ơn')) return true;
        seen = u.messages().length;
        expect(await u.send(m.buttons[m.buttons.length >= 4 ? 3 : 0]!.payload)).toBe(200);
      }
      return false;
    };

    const finished = await Promise.all([...Array.from({ length: 8 }, (_, i) => telegramSurvey(i)), ...Array.from({ length: 4 }, (_, i) => zaloSurvey(i))]);
    expect(finished.every(Boolean)).toBe(true);

    // Each chat stayed with one process, so no process's copy was ever behind; and both processes took chats.
    expect([...servedBy].filter(([, by]) => by.size !== 1)).toEqual([]);
    expect(a.service.runner.casRetries + b.service.runner.casRetries).toBe(0);
    const processes = new Set([...servedBy.values()].flatMap((by) => [...by]));
    expect([...processes].sort()).toEqual(upstreams.map((p) => `127.0.0.1:${p}`).sort());

    // The browser: one cookie, one process. Requests that name no chat are spread over both.
    const upstreamOf = async (headers: Record<string, string> = {}) => (await fetch(`${nginx.url}/readyz`, { headers })).headers.get('x-upstream');
    const cookie = `tthc_web=${randomBytes(16).toString('base64url').slice(0, 22)}`;
    const byCookie = new Set(await Promise.all(Array.from({ length: 10 }, () => upstreamOf({ cookie }))));
    expect(byCookie.size).toBe(1);
    const spread = new Set(await Promise.all(Array.from({ length: 20 }, () => upstreamOf())));
    expect(spread.size).toBe(2);
  }, 120_000);
});
