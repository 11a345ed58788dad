// GET /try: the product in one minute, without a Telegram or Zalo account. It
// creates a demonstration invitation (kept out of every real campaign's
// figures) and shows the survey as a chat: the messages and buttons a Telegram
// or a Zalo user would see, produced by those channels' own renderers
// (switchable), answered through the same runner and engine.
import express, { type Request, type Response, Router } from 'express';
import { CHANNEL_PLUGINS } from '../../channels/registry.js';
import type { ConversationRunner, InboundEvent } from '../../conversations/runner.js';
import { safeEqual } from '../../crypto.js';
import type { Output } from '../../engine/interpreter.js';
import type { Invitations } from '../../invitations/invitations.js';
import type { RedisClient } from '../../redis.js';
import { esc, page } from './html.js';
import type { WebSession } from './survey.js';

type Entry = { from: 'user'; text: string } | { from: 'bot'; outputs: Output[] };
/** The chat channels that can show themselves (their own renderers), by name: the "looks" of the simulator. */
const LOOKS = new Map(
  CHANNEL_PLUGINS.flatMap((p) => (p.preview && p.tapOf ? [[p.name as string, { title: p.display.title, preview: p.preview, tapOf: p.tapOf }]] : [])),
);
const DEFAULT_LOOK = [...LOOKS.keys()][0]!;

const STYLE = `<style>
  .chat { display: flex; flex-direction: column; gap: .5rem; }
  .msg { max-width: 85%; padding: .6rem .8rem; border-radius: .8rem; white-space: pre-wrap; line-height: 1.4; }
  .bot { background: #fff; align-self: flex-start; box-shadow: 0 1px 2px rgba(0,0,0,.1); }
  .user { align-self: flex-end; background: var(--me); color: #fff; }
  .kb { display: grid; gap: .3rem; margin-top: .5rem; }
  .kb button { padding: .6rem; border-radius: .5rem; border: 1px solid var(--me); background: #f7fbff; color: #123; font-size: 1rem; }
  .chat { --me: #0068ff; }
  .bar { display: flex; gap: .5rem; margin: 1rem 0; } .bar input { flex: 1; }
</style>`;

export interface TryDeps {
  runner: ConversationRunner;
  invitations: Invitations;
  redis: RedisClient;
  prefix: string;
}

export function tryRoutes(d: TryDeps, session: WebSession): Router {
  const r = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const logKey = (browser: string) => `${d.prefix}try:${browser}`;
  const who = (browser: string) => ({ channel: 'web' as const, userKey: `try-${browser}` });
  const lookOf = (req: Request): string => {
    const asked = String(req.query.look ?? req.body?.look ?? '');
    return LOOKS.has(asked) ? asked : DEFAULT_LOOK;
  };
  const append = async (browser: string, ...entries: Entry[]) => {
    await d.redis
      .multi()
      .rpush(logKey(browser), ...entries.map((e) => JSON.stringify(e)))
      .ltrim(logKey(browser), -60, -1)
      .pexpire(logKey(browser), 86_400_000)
      .exec();
  };
  const handle = async (browser: string, ev: Record<string, unknown>, said: string) => {
    const result = await d.runner.handle({ ...who(browser), ...ev } as InboundEvent);
    if (!result.duplicate) await append(browser, ...(said ? [{ from: 'user' as const, text: said }] : []), { from: 'bot', outputs: result.outputs });
  };

  r.get('/try', async (req, res) => {
    const browser = session.browserOf(req, res);
    const inv = await d.invitations.createDemo();
    await d.redis.del(logKey(browser));
    await handle(browser, { kind: 'start', token: inv.token }, '');
    res.redirect(303, `/try/chat?look=${lookOf(req)}`);
  });

  r.get('/try/chat', async (req, res) => {
    const browser = session.browserOf(req, res);
    const look = lookOf(req);
    const entries = (await d.redis.lrange(logKey(browser), 0, -1)).map((x) => JSON.parse(x) as Entry);
    const bubbles: string[] = [];
    let lastButtons = -1;
    for (const e of entries) {
      if (e.from === 'user') {
        bubbles.push(`<div class="msg user">${esc(e.text)}</div>`);
        continue;
      }
      // The channel's own rendering: what its user would see.
      const messages = LOOKS.get(look)!.preview(e.outputs);
      for (const m of messages) {
        if (m.buttons.length) lastButtons = bubbles.length;
        bubbles.push(JSON.stringify(m));
      }
    }
    const hidden = session.hidden(browser);
    const html = bubbles
      .map((b, i) => {
        if (b.startsWith('<')) return b;
        const m = JSON.parse(b) as { text: string; buttons: Array<{ title: string; value: string }> };
        // Old keyboards stay on screen (as in the apps) and answer as stale taps.
        const kb = m.buttons.length
          ? `<form method="post" action="/try/chat" class="kb">${hidden}<input type="hidden" name="look" value="${look}">${m.buttons
              .map(
                (x) =>
                  `<button type="submit" name="tap" value="${esc(`${x.value}|${x.title}`)}"${i === lastButtons ? '' : ' class="old"'}>${esc(x.title)}</button>`,
              )
              .join('')}</form>`
          : '';
        return `<div class="msg bot">${esc(m.text)}${kb}</div>`;
      })
      .join('');
    const title = LOOKS.get(look)!.title;
    const others = [...LOOKS.entries()]
      .filter(([name]) => name !== look)
      .map(([name, l]) => `<a href="/try/chat?look=${name}">Xem như trên ${esc(l.title)}</a>`)
      .join(' · ');
    res
      .set('cache-control', 'no-store')
      .type('html')
      .send(
        page(
          'Dùng thử khảo sát',
          `<h1>Dùng thử: khảo sát như người dân thấy trên ${esc(title)}</h1>
<p class="muted">Phiếu thử nghiệm: câu trả lời không tính vào báo cáo. ${others} · <a href="/try?look=${look}">Làm lại từ đầu</a></p>
<div class="chat" id="chat" data-look="${look}">${html}</div>
<form method="post" action="/try/chat" class="bar">${hidden}<input type="hidden" name="look" value="${look}"><label for="say" class="muted" style="position:absolute;left:-9999px">Tin nhắn</label><input id="say" name="text" maxlength="2000" placeholder="Gõ tin nhắn..." autocomplete="off"><button class="btn primary" type="submit">Gửi</button></form>`,
          STYLE,
        ),
      );
  });

  r.post('/try/chat', form, async (req: Request, res: Response) => {
    const browser = session.browserOf(req, res);
    if (!safeEqual(String(req.body?.csrf ?? ''), session.csrfOf(browser))) return void res.status(403).send('Phiên làm việc đã hết hạn: xin mở lại /try');
    const look = lookOf(req);
    const [value = '', label = ''] = String(req.body.tap ?? '').split(/\|(.*)/s);
    const text = typeof req.body.text === 'string' ? req.body.text.slice(0, 2000) : '';
    // A tap carries what the channel put in its button, read back by that channel.
    const parsed = value ? LOOKS.get(look)!.tapOf(value) : undefined;
    if (parsed) await handle(browser, { kind: 'choice', seq: parsed.seq, key: parsed.key }, label);
    else if (text.trim()) await handle(browser, { kind: 'text', text }, text);
    res.redirect(303, `/try/chat?look=${look}`);
  });
  return r;
}
