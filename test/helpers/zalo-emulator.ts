// A Zalo OA API emulator at its HTTP boundary: the real axios code talks to
// it. It checks what Zalo checks (the access_token header, the body shape and
// limits, the OAuth secret_key), rotates refresh tokens single-use, answers
// errors as HTTP 200 with error != 0, and signs the webhook events it delivers
// (X-ZEvent-Signature) as Zalo does.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { zaloSignature } from '../../webhooks/zalo/inbound.js';
import { closeNow, listenLocal } from './ports.js';

export interface ZaloMessage {
  id: number;
  user: string;
  text: string;
  buttons: Array<{ title: string; payload: string }>;
}

export class ZaloEmulator extends EventEmitter {
  readonly appId = '1234567890123456789';
  readonly appSecret = 'app-secret-Zalo-emulator';
  readonly oaSecretKey = 'oa-secret-key-Zalo-emulator';
  readonly oaId = '4318700000000000001';
  base = '';
  latencyMs = 0;
  readonly validAccess = new Set<string>();
  readonly validRefresh = new Set<string>();
  readonly messages = new Map<string, ZaloMessage[]>();
  /** Every send attempt, with its error code (0 = delivered). */
  readonly sends: Array<{ user: string; at: number; error: number; token: string }> = [];
  readonly refreshes: Array<{ at: number; ok: boolean }> = [];
  /** Per user: the next sends fail with these Zalo error codes, in order. */
  readonly failures = new Map<string, number[]>();
  readonly unfollowed = new Set<string>();
  /** ZNS: templates the OA had approved, and what was delivered (once per tracking_id). */
  readonly approvedTemplates = new Set(['500123']);
  readonly znsSent: Array<{ phone: string; template_id: string; template_data: Record<string, string>; tracking_id: string; at: number }> = [];
  znsCalls = 0;
  /** The next ZNS sends fail with these error codes. */
  readonly znsFailures: number[] = [];
  /** The next ZNS send is delivered, but the answer is lost (the connection drops): the sender cannot know it went out. */
  znsDropAnswerOnce = false;
  private server?: Server;
  private nextId = 1;
  private issued = 0;

  /** A fresh valid pair, as the OA's API explorer gives one. */
  issuePair(): { access: string; refresh: string } {
    this.issued++;
    const pair = { access: `AT${this.issued}_${randomBytes(6).toString('hex')}`, refresh: `RT${this.issued}_${randomBytes(6).toString('hex')}` };
    this.validAccess.add(pair.access);
    this.validRefresh.add(pair.refresh);
    return pair;
  }

  /** The access tokens expire (Zalo answers -216 to them). */
  expireAccessTokens() {
    this.validAccess.clear();
  }

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const raw = await readBody(req);
      if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.method === 'POST' && req.url === '/v3.0/oa/message/cs') return reply(200, this.send(String(req.headers.access_token ?? ''), raw));
      if (req.method === 'POST' && req.url === '/message/template') {
        const answer = this.template(String(req.headers.access_token ?? ''), raw);
        if (this.znsDropAnswerOnce) {
          this.znsDropAnswerOnce = false;
          return void req.socket.destroy();
        }
        return reply(200, answer);
      }
      if (req.method === 'POST' && req.url === '/v4/oa/access_token') return reply(200, this.refresh(String(req.headers.secret_key ?? ''), raw));
      reply(404, { error: 404, message: 'not found' });
    });
    this.base = await listenLocal(this.server);
    return this;
  }

  stop() {
    return closeNow(this.server);
  }

  private send(token: string, raw: string): { error: number; message: string; data?: unknown } {
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return { error: -201, message: 'body is not JSON' };
    }
    const user = body?.recipient?.user_id;
    const record = (error: number) => this.sends.push({ user: String(user), at: Date.now(), error, token });
    if (!this.validAccess.has(token)) {
      record(-216);
      return { error: -216, message: 'Access token is invalid' };
    }
    const text = body?.message?.text;
    const buttons = body?.message?.attachment?.payload?.buttons ?? [];
    const shapeOk =
      typeof user === 'string' &&
      /^\d+$/.test(user) &&
      typeof text === 'string' &&
      text.length > 0 &&
      text.length <= 2000 &&
      (body.message.attachment === undefined || body.message.attachment.type === 'template') &&
      Array.isArray(buttons) &&
      buttons.every((b: any) => typeof b.title === 'string' && b.title.length <= 100 && b.type === 'oa.query.hide' && typeof b.payload === 'string');
    if (!shapeOk) {
      record(-201);
      return { error: -201, message: 'Parameters are invalid' };
    }
    if (this.unfollowed.has(user)) {
      record(-213);
      return { error: -213, message: 'User has not followed OA' };
    }
    const failure = this.failures.get(user)?.shift();
    if (failure) {
      record(failure);
      return { error: failure, message: 'emulated failure' };
    }
    record(0);
    const msg: ZaloMessage = { id: this.nextId++, user, text, buttons: buttons.map((b: any) => ({ title: b.title, payload: b.payload })) };
    const list = this.messages.get(user);
    if (list) list.push(msg);
    else this.messages.set(user, [msg]);
    this.emit('message', msg);
    return { error: 0, message: 'Success', data: { message_id: `m${msg.id}`, user_id: user } };
  }

  private template(token: string, raw: string) {
    this.znsCalls++;
    if (!this.validAccess.has(token)) return { error: -124, message: 'Access token is invalid' };
    let b: any;
    try {
      b = JSON.parse(raw);
    } catch {
      return { error: -100, message: 'body is not JSON' };
    }
    if (typeof b.phone !== 'string' || !/^84\d{9,10}$/.test(b.phone)) return { error: -108, message: 'Phone number is invalid' };
    if (!this.approvedTemplates.has(String(b.template_id))) return { error: -131, message: 'Template is not approved' };
    if (typeof b.tracking_id !== 'string' || b.tracking_id.length > 48 || typeof b.template_data !== 'object')
      return { error: -100, message: 'Parameters are invalid' };
    const failure = this.znsFailures.shift();
    if (failure) return { error: failure, message: 'emulated failure' };
    // tracking_id is the idempotency key: a retry is not delivered twice.
    const seen = this.znsSent.find((x) => x.tracking_id === b.tracking_id);
    if (!seen)
      this.znsSent.push({ phone: b.phone, template_id: String(b.template_id), template_data: b.template_data, tracking_id: b.tracking_id, at: Date.now() });
    return { error: 0, message: 'Success', data: { msg_id: `zns-${b.tracking_id}`, sent_time: String(Date.now()) } };
  }

  private refresh(secretKey: string, raw: string) {
    const form = new URLSearchParams(raw);
    const ok = secretKey === this.appSecret && form.get('app_id') === this.appId && form.get('grant_type') === 'refresh_token';
    const rt = form.get('refresh_token') ?? '';
    if (!ok || !this.validRefresh.has(rt)) {
      this.refreshes.push({ at: Date.now(), ok: false });
      return { error: -14014, error_name: 'Invalid refresh token', error_description: 'The refresh token is invalid or was used' };
    }
    // Single use: the old refresh token is dead from now on.
    this.validRefresh.delete(rt);
    const pair = this.issuePair();
    this.refreshes.push({ at: Date.now(), ok: true });
    return { access_token: pair.access, refresh_token: pair.refresh, expires_in: '90000' };
  }

  chat(user: string): ZaloMessage[] {
    return this.messages.get(user) ?? [];
  }

  /** A signed webhook event body and its headers, as Zalo would send them. */
  sign(event: Record<string, unknown>): { raw: string; headers: Record<string, string> } {
    const body = { app_id: this.appId, timestamp: String(Date.now()), ...event };
    const raw = JSON.stringify(body);
    return {
      raw,
      headers: { 'content-type': 'application/json', 'x-zevent-signature': `mac=${zaloSignature(this.appId, raw, body.timestamp, this.oaSecretKey)}` },
    };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The service's configuration for this emulator, with a token pair it issued. */
export function zaloEnv(emu: ZaloEmulator, tokens: { access: string; refresh: string }): Record<string, string> {
  return {
    ZALO_APP_ID: emu.appId,
    ZALO_APP_SECRET: emu.appSecret,
    ZALO_OA_ID: emu.oaId,
    ZALO_OA_SECRET_KEY: emu.oaSecretKey,
    ZALO_ACCESS_TOKEN: tokens.access,
    ZALO_REFRESH_TOKEN: tokens.refresh,
    ZALO_OA_API_BASE: emu.base,
    ZALO_OAUTH_BASE: emu.base,
    ZALO_ZNS_API_BASE: emu.base,
    ZALO_SEND_RATE: '1000',
  };
}

/** One Zalo user talking to the OA through the webhook. */
export class ZaloUser {
  private seq = 0;
  constructor(
    private readonly emu: ZaloEmulator,
    readonly webhookUrl: string,
    readonly userId: string,
  ) {}

  async post(raw: string, headers: Record<string, string>): Promise<number> {
    return (await fetch(this.webhookUrl, { method: 'POST', headers, body: raw })).status;
  }

  event(name: string, extra: Record<string, unknown> = {}) {
    return this.emu.sign({ event_name: name, user_id_by_app: `a${this.userId}`, sender: { id: this.userId }, recipient: { id: this.emu.oaId }, ...extra });
  }

  /** Sends a text (a tap sends the button's payload as text); `msgId` repeats a delivery. */
  async send(text: string, msgId = `msg${this.userId}_${++this.seq}_${randomBytes(3).toString('hex')}`): Promise<number> {
    const { raw, headers } = this.event('user_send_text', { message: { msg_id: msgId, text } });
    return this.post(raw, headers);
  }

  tap(title: string, message = this.lastWithButtons()): Promise<number> {
    const b = message?.buttons.find((x) => x.title === title);
    if (!b) throw new Error(`user ${this.userId}: no button "${title}" in ${JSON.stringify(message?.buttons.map((x) => x.title))}`);
    return this.send(b.payload);
  }

  messages(): ZaloMessage[] {
    return this.emu.chat(this.userId);
  }

  lastWithButtons(): ZaloMessage | undefined {
    return this.messages().findLast((m) => m.buttons.length > 0);
  }

  async waitForText(text: string, after = 0, timeoutMs = 10_000): Promise<ZaloMessage> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = this.messages()
        .slice(after)
        .find((x) => x.text.includes(text));
      if (m) return m;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`user ${this.userId}: timed out waiting for "${text}"; messages: ${JSON.stringify(this.messages().map((m) => m.text.slice(0, 60)))}`);
  }
}
