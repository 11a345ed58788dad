// The survey in the browser: the same flow, engine and session store as the
// chats, one question per screen, plain form posts (works with JavaScript
// off), a few kilobytes per page. The browser is the respondent: a random id
// in an HttpOnly cookie is its "chat". Every post carries a CSRF token tied to
// that id and a one-time nonce (a reloaded post is recognized as a repeat).
//
//   POST /s/:token/start   open the invitation in this browser (claims it)
//   GET  /s                type the code from the slip     POST /s  (the code)
//   GET  /s/survey         the current question            POST /s/survey (an answer)
import { createHmac, randomBytes } from 'node:crypto';
import express, { type Request, type Response, Router } from 'express';
import type { ConversationRunner, InboundEvent } from '../../conversations/runner.js';
import { safeEqual } from '../../crypto.js';
import type { Output } from '../../engine/interpreter.js';
import type { FlowRegistry } from '../../engine/load.js';
import { esc, page } from './html.js';

const COOKIE = 'tthc_web';
const BROWSER_ID = /^[A-Za-z0-9_-]{22}$/;

const STYLE = `<style>
  .q { font-size: 1.15rem; line-height: 1.45; margin: 0 0 1rem; }
  .choices { display: grid; gap: .6rem; }
  .choices button { width: 100%; padding: 1rem; font-size: 1.05rem; text-align: left; border-radius: .6rem; border: 1px solid #bbb; background: #fff; color: #1a1a1a; }
  .choices button:focus { outline: 3px solid #0068ff; }
  .choices button.minor { background: #eef1f4; font-size: .95rem; }
  textarea { width: 100%; box-sizing: border-box; min-height: 7rem; font-size: 1rem; padding: .6rem; }
  .progress { height: .5rem; background: #dde3ea; border-radius: .25rem; overflow: hidden; margin-bottom: .25rem; }
  .progress span { display: block; height: 100%; background: #0068ff; }
  .note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .6rem; margin-bottom: 1rem; }
</style>`;

export interface SurveyPageDeps {
  runner: ConversationRunner;
  flows: FlowRegistry;
  /** Whether one more typed code from this client address is allowed (see GuessLimiter.attemptFrom). */
  codeAttempt?: (address: string) => Promise<boolean>;
}

/** The browser's identity and the hidden fields every form of it carries (the landing page's form too). */
export function webSession(secret: string, secure: boolean) {
  const csrfOf = (browser: string) => createHmac('sha256', secret).update(`csrf:${browser}`).digest('base64url');
  /** This browser's id, set on first sight. */
  const browserOf = (req: Request, res: Response): string => {
    const found = /(?:^|;\s*)tthc_web=([A-Za-z0-9_-]{22})/.exec(req.headers.cookie ?? '')?.[1];
    if (found && BROWSER_ID.test(found)) return found;
    const id = randomBytes(16).toString('base64url');
    res.append('set-cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${30 * 86_400}${secure ? '; Secure' : ''}`);
    return id;
  };
  const hidden = (browser: string) =>
    `<input type="hidden" name="csrf" value="${csrfOf(browser)}"><input type="hidden" name="nonce" value="${randomBytes(9).toString('base64url')}">`;
  return { csrfOf, browserOf, hidden, fields: (req: Request, res: Response) => hidden(browserOf(req, res)) };
}
export type WebSession = ReturnType<typeof webSession>;

export function surveyRoutes(d: SurveyPageDeps, session: WebSession): Router {
  const r = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const { csrfOf, browserOf, hidden } = session;
  /** A post without this browser's CSRF token changes nothing. */
  const checked = (req: Request, res: Response): string | undefined => {
    const browser = browserOf(req, res);
    const token = typeof req.body?.csrf === 'string' ? req.body.csrf : '';
    if (safeEqual(token, csrfOf(browser))) return browser;
    res
      .status(403)
      .type('html')
      .send(
        page(
          'Phiên làm việc đã hết hạn',
          '<h1>Phiên làm việc đã hết hạn</h1><div class="card">Xin vui lòng mở lại đường dẫn khảo sát (quét lại mã QR) và thử lại.</div>',
        ),
      );
    return undefined;
  };
  const event = (browser: string, nonce: unknown, rest: Record<string, unknown>) =>
    ({
      channel: 'web',
      userKey: browser,
      ...(typeof nonce === 'string' && /^[A-Za-z0-9_-]{1,24}$/.test(nonce) ? { eventId: `web:${nonce}` } : {}),
      ...rest,
    }) as InboundEvent;

  /** The current screen of this browser's survey, with the notes of the last step (hints, thanks) above it. */
  const show = async (res: Response, browser: string, notes: string[] = [], status = 200) => {
    const { conversation, outputs } = await d.runner.current({ channel: 'web', userKey: browser });
    const s = conversation.s;
    const noteHtml = notes.map((n) => `<div class="note" role="status">${esc(n)}</div>`).join('');
    const question = outputs.find((o): o is Extract<Output, { type: 'question' }> => o.type === 'question');
    res.set('cache-control', 'no-store');
    if (!s) return void res.status(status).type('html').send(codePage(browser, noteHtml));
    if (!question) {
      const done =
        s.status === 'completed'
          ? '<h1>Cảm ơn ông/bà!</h1>'
          : `<h1>Khảo sát đã dừng</h1><div class="card"><form method="post" action="/s/survey">${hidden(browser)}<input type="hidden" name="command" value="resume"><button class="btn primary" type="submit">Tiếp tục khảo sát</button></form></div>`;
      return void res
        .status(status)
        .type('html')
        .send(
          page(
            'Khảo sát sự hài lòng',
            `${noteHtml || (s.status === 'completed' ? `<div class="note">${esc(d.flows.get(s.flow).thankYou.replace(/\{\w+\}/g, ''))}</div>` : '')}${done}`,
            STYLE,
          ),
        );
    }
    const flow = d.flows.get(s.flow);
    const at = flow.indexOf.get(question.questionId) ?? 0;
    const percent = Math.round((at / flow.questions.length) * 100);
    const isText = flow.questions[at]?.type === 'text';
    const choices = question.choices
      .map((c, i) => {
        const minor = c.key === 'back' || c.key === 'skip' || c.key === 'stop';
        return `<button type="submit" name="choice" value="${question.seq}:${esc(c.key)}"${minor ? ' class="minor"' : ''}${i === 0 && !isText ? ' autofocus' : ''}>${esc(c.label)}</button>`;
      })
      .join('');
    const text = isText
      ? `<label for="answer">Câu trả lời của ông/bà</label><textarea id="answer" name="text" maxlength="4000" autofocus></textarea><p><button class="btn primary" type="submit" name="send" value="1">Gửi câu trả lời</button></p>`
      : '';
    const body = `<div class="progress" role="progressbar" aria-label="Tiến độ khảo sát" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${percent}"><span style="width:${percent}%"></span></div>
<p class="muted">Đã trả lời ${s.hist.length} câu</p>${noteHtml}
<form method="post" action="/s/survey" class="card">${hidden(browser)}
<fieldset style="border:0;padding:0;margin:0"><legend class="q">${esc(question.text)}</legend>${text}<div class="choices">${choices}</div></fieldset></form>`;
    res
      .status(status)
      .type('html')
      .send(page('Khảo sát sự hài lòng', body, STYLE));
  };

  const codePage = (browser: string, notes = '') =>
    page(
      'Nhập mã khảo sát',
      `<h1>Khảo sát sự hài lòng</h1>${notes}<form method="post" action="/s" class="card">${hidden(browser)}
<label for="code">Mã khảo sát (8 ký tự, in dưới mã QR trên phiếu hẹn trả kết quả)</label>
<input id="code" name="code" autocomplete="off" autocapitalize="characters" maxlength="40" required autofocus>
<p><button class="btn primary" type="submit">Bắt đầu khảo sát</button></p></form>`,
      STYLE,
    );

  const texts = (outputs: Output[]) => outputs.flatMap((o) => (o.type === 'text' ? [o.text] : []));

  r.get('/s', (req, res) => {
    res
      .set('cache-control', 'no-store')
      .type('html')
      .send(codePage(browserOf(req, res)));
  });

  r.post('/s', form, async (req, res) => {
    const browser = checked(req, res);
    if (!browser) return;
    const code = String(req.body.code ?? '').slice(0, 40);
    if (d.codeAttempt && !(await d.codeAttempt(req.ip ?? ''))) {
      return void (await show(res, browser, ['Đã nhập mã quá nhiều lần từ mạng này. Vui lòng thử lại sau ít phút.'], 429));
    }
    const r0 = await d.runner.handle(event(browser, req.body.nonce, { kind: 'text', text: code }));
    if (r0.events.some((e) => e.type === 'started') || r0.outputs.some((o) => o.type === 'question')) return void res.redirect(303, '/s/survey');
    await show(res, browser, texts(r0.outputs), 400);
  });

  r.post('/s/:token/start', form, async (req, res) => {
    const browser = checked(req, res);
    if (!browser) return;
    const r0 = await d.runner.handle(event(browser, req.body.nonce, { kind: 'start', token: String(req.params.token) }));
    if (r0.outputs.some((o) => o.type === 'question') || r0.duplicate) return void res.redirect(303, '/s/survey');
    // Refused (answered on another device, used, expired...): say so, with the code form.
    await show(res, browser, texts(r0.outputs), 409);
  });

  r.get('/s/survey', async (req, res) => {
    await show(res, browserOf(req, res));
  });

  r.post('/s/survey', form, async (req, res) => {
    const browser = checked(req, res);
    if (!browser) return;
    const b = req.body as Record<string, unknown>;
    const choice = typeof b.choice === 'string' ? /^(\d{1,9}):([a-z0-9]{1,16})$/.exec(b.choice) : null;
    let input: Record<string, unknown> | undefined;
    if (choice) input = { kind: 'choice', seq: Number(choice[1]), key: choice[2] };
    else if (b.command === 'resume') {
      // As reopening the invitation in a chat: a stopped survey resumes where it stopped.
      const r0 = await d.runner.resumeStopped({ channel: 'web', userKey: browser });
      return void (await show(res, browser, texts(r0.outputs)));
    } else if (typeof b.text === 'string') input = { kind: 'text', text: b.text.slice(0, 4000) };
    if (!input) return void (await show(res, browser, ['Xin vui lòng chọn một câu trả lời.'], 400));
    const r0 = await d.runner.handle(event(browser, b.nonce, input));
    // A reloaded post (the same nonce) changes nothing: the current question is shown again.
    await show(res, browser, r0.duplicate ? [] : texts(r0.outputs));
  });
  return r;
}
