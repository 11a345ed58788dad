// The platform calls' transport behind a proxy: HTTPS_PROXY / HTTP_PROXY are honoured (as axios and curl honour them),
// NO_PROXY is not proxied, and an https call reaches the proxy only as a CONNECT to the host (never the path, where
// Telegram puts the token). The proxy here is a local one; the settings are read once per origin, so each case uses
// origins of its own.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpCall } from '../../src/channels/http-call.js';
import { TelegramApiClient } from '../../webhooks/telegram/api-client.js';
import { zaloHttp } from '../../webhooks/zalo/http.js';

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/** What the proxy was asked: the request line and the credentials it was given. */
const proxied: Array<{ method: string; target: string; auth?: string }> = [];
let proxy: Server;
let proxyUrl: string;
/** Platform APIs (two origins): each answers every call with where it was called. */
let api: Server;
let apiRoot: string;
let other: Server;
let otherRoot: string;

beforeAll(async () => {
  const answerWithPath = (req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify({ ok: true, result: { path: req.url } }));
  api = createServer(answerWithPath);
  apiRoot = await listen(api);
  other = createServer(answerWithPath);
  otherRoot = await listen(other);
  // Forwards plain requests (the absolute URL in the request line); refuses tunnels with 403 after noting them.
  proxy = createServer((req, res) => {
    proxied.push({ method: req.method!, target: req.url!, ...(req.headers['proxy-authorization'] ? { auth: req.headers['proxy-authorization'] } : {}) });
    const upstream = request(req.url!, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  proxy.on('connect', (req, socket) => {
    proxied.push({ method: req.method!, target: req.url!, ...(req.headers['proxy-authorization'] ? { auth: req.headers['proxy-authorization'] } : {}) });
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  });
  proxyUrl = await listen(proxy);
});

afterEach(() => {
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY']) delete process.env[name];
  proxied.length = 0;
});

afterAll(() => {
  for (const s of [api, other, proxy]) {
    s.closeAllConnections();
    s.close();
  }
});

describe('httpCall behind a proxy', () => {
  it("sends Telegram's calls through HTTP_PROXY, with the proxy's credentials", async () => {
    process.env.HTTP_PROXY = proxyUrl.replace('http://', 'http://officer:pw@');
    const client = new TelegramApiClient('123:TOKEN', apiRoot, 2_000);
    expect(await client.getMe()).toEqual({ path: '/bot123:TOKEN/getMe' });
    expect(proxied).toEqual([{ method: 'POST', target: `${apiRoot}/bot123:TOKEN/getMe`, auth: `Basic ${Buffer.from('officer:pw').toString('base64')}` }]);
  });

  it("sends Zalo's calls through it too, and goes direct to a host NO_PROXY names", async () => {
    process.env.HTTP_PROXY = proxyUrl;
    const viaProxy = zaloHttp(apiRoot.replace('127.0.0.1', 'localhost'));
    expect((await viaProxy.get('/v3.0/oa/message/cs')).status).toBe(200);
    expect(proxied.map((p) => p.target)).toEqual([`${apiRoot.replace('127.0.0.1', 'localhost')}/v3.0/oa/message/cs`]);

    process.env.NO_PROXY = 'example.org,127.0.0.1';
    const answer = await httpCall({ method: 'GET', url: `${otherRoot}/direct`, headers: {}, timeoutMs: 2_000 });
    expect(JSON.parse(answer.body)).toEqual({ ok: true, result: { path: '/direct' } });
    expect(proxied).toHaveLength(1);
  });

  it('tunnels an https call with CONNECT, showing the proxy the host and port only; its refusal is the answer', async () => {
    process.env.HTTPS_PROXY = proxyUrl;
    const answer = await httpCall({ method: 'POST', url: 'https://api.telegram.org/bot123:TOKEN/sendMessage', headers: {}, body: '{}', timeoutMs: 2_000 });
    expect(answer.status).toBe(403);
    expect(proxied).toEqual([{ method: 'CONNECT', target: 'api.telegram.org:443' }]);
  });

  it('fails clearly when the proxy is down, never naming its credentials', async () => {
    process.env.HTTPS_PROXY = 'http://officer:secret@127.0.0.1:1';
    const err = await httpCall({ method: 'GET', url: 'https://openapi.zalo.me/v2.0/oa/getoa', headers: {}, timeoutMs: 2_000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(String((err as Error).message) + String((err as Error).stack)).not.toContain('secret');
  });
});
