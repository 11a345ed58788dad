// A small Telegram Bot API emulator at its HTTP boundary: the real telegraf
// client talks to it, and it delivers updates to our webhook the way Telegram
// does (secret header, waits for the answer, executes a method in the answer).
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { closeNow, listenLocal } from './ports.js';

export interface StoredMessage {
  message_id: number;
  chat: number;
  text: string;
  buttons: Array<{ text: string; data: string }>;
  /** Raised on every send and edit, across the emulator: what changed last has the highest. */
  rev: number;
}

export interface ApiCall {
  method: string;
  payload: Record<string, unknown>;
  at: number;
  viaWebhookReply?: boolean;
  /** Received, then lost on the way: never applied, never answered. */
  lost?: boolean;
}

type Failure = { code: number; description: string; retryAfter?: number };

export class TelegramEmulator extends EventEmitter {
  readonly calls: ApiCall[] = [];
  /** Keeps every call in `calls`, for tests to read; the benchmark turns it off, so that its own heap stays small. */
  recordCalls = true;
  /** Added to every API answer, to stand for the network between a server and Telegram. */
  latencyMs = 0;
  /** Per chat, instead of latencyMs. */
  readonly chatLatencyMs = new Map<number, number>();
  readonly messages = new Map<number, StoredMessage[]>();
  readonly blocked = new Set<number>();
  /** Per chat: the next sendMessage or editMessageText calls fail with these, in order. */
  readonly failures = new Map<number, Failure[]>();
  /**
   * Telegram's limits, enforced as Telegram does (429 with retry_after beyond
   * them): messages per second for the bot, and per chat. Off by default.
   */
  limits?: { perSecond: number; perChatPerSecond: number };
  /** sendMessage calls answered 429 because of `limits`. */
  tooMany = 0;
  /** Share of sendMessage calls that fail before anything is sent (5xx, or the connection dropped). */
  failureRate = 0;
  /**
   * Per chat: the next sendMessage or editMessageText calls never get an
   * answer (the client times out): 'lost' on the way (nothing done), or
   * 'applied' and the answer lost.
   */
  readonly stalls = new Map<number, Array<'lost' | 'applied'>>();
  private readonly sentAt: number[] = [];
  private readonly chatSentAt = new Map<number, number>();
  private server?: Server;
  private nextMessageId = 1000;
  private nextRev = 1;
  /** The next update_id (a bot sees each id once: a run against a long-lived Redis starts above the ids it used before). */
  nextUpdateId = 1;
  /** What setWebhook registered. */
  webhook?: { url: string; secret: string; allowedUpdates: string[] };
  apiRoot = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
      const body = await readJson(req);
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (!m) return reply(404, { ok: false, error_code: 404, description: 'Not Found' });
      const latency = this.chatLatencyMs.get(Number(body.chat_id)) ?? this.latencyMs;
      if (latency) await new Promise((r) => setTimeout(r, latency));
      if (m[2] === 'sendMessage' && this.failureRate && Math.random() < this.failureRate) {
        // Nothing was sent: a 502 from Telegram's front, or a connection dropped on the way.
        if (Math.random() < 0.5) return void req.socket.destroy();
        return reply(502, { ok: false, error_code: 502, description: 'Bad Gateway' });
      }
      if (m[2] === 'sendMessage' && this.limits) {
        const now = Date.now();
        while (this.sentAt.length && this.sentAt[0]! <= now - 1000) this.sentAt.shift();
        const chat = Number(body.chat_id);
        const last = this.chatSentAt.get(chat) ?? 0;
        if (this.sentAt.length >= this.limits.perSecond || now - last < 1000 / this.limits.perChatPerSecond) {
          this.tooMany++;
          return reply(429, this.fail({ code: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 }));
        }
        this.sentAt.push(now);
        this.chatSentAt.set(chat, now);
      }
      const stall = m[2] === 'sendMessage' || m[2] === 'editMessageText' ? this.stalls.get(Number(body.chat_id))?.shift() : undefined;
      if (stall === 'applied') this.apply(m[2]!, body);
      if (stall === 'lost') this.calls.push({ method: m[2]!, payload: body, at: Date.now(), lost: true });
      if (stall) return; // no answer: the connection stays open until the client gives up
      const out = this.apply(m[2]!, body);
      reply(out.ok ? 200 : out.error_code, out);
    });
    this.apiRoot = await listenLocal(this.server);
    return this;
  }

  stop() {
    return closeNow(this.server);
  }

  private fail(f: Failure) {
    return { ok: false, error_code: f.code, description: f.description, ...(f.retryAfter ? { parameters: { retry_after: f.retryAfter } } : {}) };
  }

  /** Executes one Bot API method against the emulated state. */
  apply(method: string, p: Record<string, unknown>, viaWebhookReply = false): { ok: true; result: unknown } | ReturnType<TelegramEmulator['fail']> {
    if (this.recordCalls) this.calls.push({ method, payload: p, at: Date.now(), viaWebhookReply });
    const chat = Number(p.chat_id);
    const find = () => this.messages.get(chat)?.find((x) => x.message_id === Number(p.message_id));
    switch (method) {
      case 'getMe':
        return { ok: true, result: { id: 1, is_bot: true, username: 'tthc_test_bot' } };
      case 'setWebhook':
        this.webhook = { url: String(p.url), secret: String(p.secret_token ?? ''), allowedUpdates: (p.allowed_updates as string[]) ?? [] };
        return { ok: true, result: true };
      case 'getWebhookInfo':
        return { ok: true, result: { url: this.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: 0 } };
      case 'answerCallbackQuery':
        return { ok: true, result: true };
      case 'sendMessage': {
        if (this.blocked.has(chat)) return this.fail({ code: 403, description: 'Forbidden: bot was blocked by the user' });
        const f = this.failures.get(chat)?.shift();
        if (f) return this.fail(f);
        const markup = p.reply_markup as { inline_keyboard?: Array<Array<{ text: string; callback_data: string }>> } | undefined;
        const msg: StoredMessage = {
          message_id: this.nextMessageId++,
          chat,
          text: String(p.text),
          buttons: (markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: b.callback_data })),
          rev: this.nextRev++,
        };
        const list = this.messages.get(chat);
        if (list) list.push(msg);
        else this.messages.set(chat, [msg]);
        this.emit('message', msg);
        return { ok: true, result: { message_id: msg.message_id, chat: { id: chat, type: 'private' }, date: 0, text: msg.text } };
      }
      case 'editMessageText':
      case 'editMessageReplyMarkup': {
        if (this.blocked.has(chat)) return this.fail({ code: 403, description: 'Forbidden: bot was blocked by the user' });
        const f = method === 'editMessageText' ? this.failures.get(chat)?.shift() : undefined;
        if (f) return this.fail(f);
        const msg = find();
        if (!msg) return this.fail({ code: 400, description: 'Bad Request: message to edit not found' });
        const text = method === 'editMessageText' ? String(p.text) : msg.text;
        const buttons = ((p.reply_markup as { inline_keyboard?: Array<Array<{ text: string; callback_data: string }>> } | undefined)?.inline_keyboard ?? [])
          .flat()
          .map((b) => ({ text: b.text, data: b.callback_data }));
        if (text === msg.text && JSON.stringify(buttons) === JSON.stringify(msg.buttons)) {
          return this.fail({ code: 400, description: 'Bad Request: message is not modified' });
        }
        msg.text = text;
        msg.buttons = buttons;
        msg.rev = this.nextRev++;
        this.emit('message', msg);
        return { ok: true, result: { message_id: msg.message_id, chat: { id: chat, type: 'private' }, date: 0, text } };
      }
      default:
        return this.fail({ code: 500, description: `emulator: ${method} not implemented` });
    }
  }

  newUpdateId() {
    return this.nextUpdateId++;
  }

  chat(chatId: number): StoredMessage[] {
    return this.messages.get(chatId) ?? [];
  }

  callsOf(method: string, chatId?: number): ApiCall[] {
    return this.calls.filter((c) => c.method === method && (chatId === undefined || Number(c.payload.chat_id) === chatId));
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const s = Buffer.concat(chunks).toString();
  return s ? (JSON.parse(s) as Record<string, unknown>) : {};
}

export interface WebhookTarget {
  url: string;
  secret: string;
  /** How the update is POSTed (default: fetch); the benchmark uses a pool of 40 connections, as Telegram does. */
  post?: (url: string, headers: Record<string, string>, body: string) => Promise<{ status: number; text: string }>;
}

const fetchPost = async (url: string, headers: Record<string, string>, body: string) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
};

/** One Telegram user (private chat) talking to the bot through the webhook. */
export class TelegramUser {
  constructor(
    private readonly emu: TelegramEmulator,
    private readonly hook: WebhookTarget,
    readonly chatId: number,
  ) {}

  /** POSTs an update as Telegram would, and executes a method in the answer. */
  async deliver(update: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await (this.hook.post ?? fetchPost)(
      this.hook.url,
      { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': this.hook.secret, ...headers },
      JSON.stringify(update),
    );
    const text = res.text;
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (res.status === 200 && typeof body.method === 'string') {
      const { method, ...payload } = body;
      this.emu.apply(method, payload, true);
    }
    return { status: res.status, body };
  }

  send(text: string, updateId = this.emu.newUpdateId()) {
    const command = /^\/\w+(@\w+)?/.exec(text);
    return this.deliver({
      update_id: updateId,
      message: {
        message_id: updateId,
        date: 0,
        chat: { id: this.chatId, type: 'private' },
        from: { id: this.chatId, is_bot: false, first_name: 'Test' },
        text,
        // Telegram marks a leading /command as an entity (telegraf's command matching relies on it).
        ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
      },
    });
  }

  /** Taps a button (by label, or by 1-based position) of a message (default: the newest with buttons). */
  tap(button: string | number, message = this.lastWithButtons(), updateId = this.emu.newUpdateId()) {
    if (!message) throw new Error(`chat ${this.chatId}: no message with buttons`);
    const b = typeof button === 'number' ? message.buttons[button - 1] : message.buttons.find((x) => x.text === button);
    if (!b) throw new Error(`chat ${this.chatId}: no button ${button} in ${JSON.stringify(message.buttons.map((x) => x.text))}`);
    return this.deliver({
      update_id: updateId,
      callback_query: {
        id: `cq${updateId}`,
        from: { id: this.chatId, is_bot: false, first_name: 'Test' },
        chat_instance: '1',
        data: b.data,
        message: { message_id: message.message_id, date: 0, chat: { id: this.chatId, type: 'private' }, text: message.text },
      },
    });
  }

  messages(): StoredMessage[] {
    return this.emu.chat(this.chatId);
  }

  /** Where the chat stands now: what is sent or edited later is `since` it. (A tap's next question may arrive as an edit of the tapped message.) */
  mark(): number {
    return Math.max(0, ...this.messages().map((m) => m.rev));
  }

  /** Messages sent or edited after `mark`, oldest change first. */
  since(mark: number): StoredMessage[] {
    return this.messages()
      .filter((m) => m.rev > mark)
      .sort((a, b) => a.rev - b.rev);
  }

  /** The newest message with buttons (the current question, which may have been asked by editing it). */
  lastWithButtons(): StoredMessage | undefined {
    return this.messages().findLast((m) => m.buttons.length > 0);
  }

  /** The newest message, at the bottom of the chat. */
  last(): StoredMessage | undefined {
    return this.messages().at(-1);
  }

  /** Answers whatever the survey asks until it thanks: the first button of each question, a typed answer where there is none. */
  async finishSurvey(typed = 'Cán bộ làm việc nhanh'): Promise<void> {
    const current = () => this.messages().reduce((x, y) => (y.rev > x.rev ? y : x));
    for (let steps = 0; !current().text.includes('Xin chân thành cảm ơn'); steps++) {
      if (steps === 40) throw new Error(`chat ${this.chatId}: no thanks after 40 answers`);
      const question = current();
      const mark = this.mark();
      const { status } = await (question.buttons.length ? this.tap(1, question) : this.send(typed));
      if (status !== 200) throw new Error(`chat ${this.chatId}: the webhook answered ${status}`);
      await this.waitFor(() => this.since(mark).length > 0, 'the next message');
    }
  }

  /** Waits until the chat's messages satisfy `pred` (outbound sends are asynchronous). */
  async waitFor(pred: (msgs: StoredMessage[]) => boolean, what = 'condition', timeoutMs = 10_000): Promise<StoredMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const msgs = this.messages();
      if (pred(msgs)) return msgs;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`chat ${this.chatId}: timed out waiting for ${what}; messages: ${JSON.stringify(this.messages().map((m) => m.text.slice(0, 60)))}`);
  }

  /** Waits for a message containing `text`, sent or edited after `mark`; returns the messages changed since. */
  async waitForText(text: string | RegExp, mark = 0, timeoutMs?: number): Promise<StoredMessage[]> {
    const match = (m: StoredMessage) => (typeof text === 'string' ? m.text.includes(text) : text.test(m.text));
    await this.waitFor(() => this.since(mark).some(match), `a message matching ${text}`, timeoutMs);
    return this.since(mark);
  }
}
