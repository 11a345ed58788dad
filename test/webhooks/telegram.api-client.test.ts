// The Bot API client's own transport: what telegraf's would give (results, TelegramError), errors that name the
// method and never the token, and a call with no answer given up.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelegramError } from 'telegraf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramApiClient } from '../../webhooks/telegram/api-client.js';

const TOKEN = '123456:SECRET-token';
let server: Server;
let root: string;
const seen: Array<{ url: string; body: unknown }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const method = req.url!.split('/').pop();
      seen.push({ url: req.url!, body: JSON.parse(raw) });
      if (method === 'getMe') return res.end(JSON.stringify({ ok: true, result: { id: 1, is_bot: true, first_name: 'B' } }));
      if (method === 'sendMessage') return res.writeHead(400).end(JSON.stringify({ ok: false, error_code: 400, description: 'Bad Request: chat not found' }));
      if (method === 'editMessageText') return res.writeHead(502, 'Bad Gateway').end('<html>bad gateway</html>');
      if (method === 'deleteMessage') return res.writeHead(404).end('<html>no</html>');
      // getUpdates: no answer
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('TelegramApiClient', () => {
  it('posts JSON without null fields and returns the result', async () => {
    const client = new TelegramApiClient(TOKEN, root, 2_000);
    expect(await client.getMe()).toEqual({ id: 1, is_bot: true, first_name: 'B' });
    await client.callApi('sendMessage', { chat_id: 5, text: 'x', reply_markup: null } as never).catch(() => {});
    expect(seen.at(-1)).toEqual({ url: `/bot${TOKEN}/sendMessage`, body: { chat_id: 5, text: 'x' } });
  });

  it("turns Telegram's refusals and 5xx into TelegramError, as telegraf does", async () => {
    const client = new TelegramApiClient(TOKEN, root, 2_000);
    const refused = await client.sendMessage(5, 'x').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TelegramError);
    expect(refused).toMatchObject({ code: 400, description: 'Bad Request: chat not found' });
    const gateway = await client.editMessageText(5, 1, undefined, 'x').catch((e: unknown) => e);
    expect(gateway).toBeInstanceOf(TelegramError);
    expect(gateway).toMatchObject({ code: 502, description: 'Bad Gateway' });
  });

  it('gives a clear error, never the token, for a non-JSON answer, a refused connection and a call with no answer', async () => {
    const notJson = await new TelegramApiClient(TOKEN, root, 2_000).deleteMessage(5, 1).catch((e: Error) => e.message);
    expect(notJson).toBe('Telegram deleteMessage: HTTP 404 without a JSON answer');
    const down = await new TelegramApiClient(TOKEN, 'http://127.0.0.1:1', 2_000).getMe().catch((e: Error) => e.message);
    expect(down).toMatch(/^Telegram getMe: connect ECONNREFUSED/);
    const silent = await new TelegramApiClient(TOKEN, root, 300).callApi('getUpdates', {}).catch((e: Error) => e.message);
    expect(silent).toBe('Telegram getUpdates: no answer in 300 ms');
    for (const message of [notJson, down, silent]) expect(message).not.toContain('SECRET');
  });
});
