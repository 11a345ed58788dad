// The Telegram adapter without infrastructure, table-driven as courier's
// handler tests: raw update -> event, outputs -> operations, platform error -> send result.
import { TelegramError } from 'telegraf';
import { describe, expect, it } from 'vitest';
import { InboundRejected, TransientSendError } from '../../src/channels/channel.js';
import type { Output } from '../../src/engine/interpreter.js';
import { parseUpdate } from '../../webhooks/telegram/inbound.js';
import { mapTelegramError } from '../../webhooks/telegram/outbound.js';
import { renderTelegram } from '../../webhooks/telegram/render.js';

const msg = (text: string) => ({ update_id: 7, message: { message_id: 3, date: 0, chat: { id: 42, type: 'private' }, text } });
const tap = (data: string) => ({
  update_id: 8,
  callback_query: { id: 'cq1', from: { id: 42 }, chat_instance: 'x', data, message: { message_id: 9, date: 0, chat: { id: 42 }, text: 'Câu hỏi' } },
});
const raw = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));

describe('Telegram inbound: update -> event', () => {
  it.each([
    ['a text', msg('xin chào'), [{ channel: 'telegram', userKey: '42', eventId: 'tg:7', kind: 'text', text: 'xin chào' }], undefined],
    [
      '/start with a token',
      msg('/start AbC_123-xyz'),
      [{ channel: 'telegram', userKey: '42', eventId: 'tg:7', kind: 'start', token: 'AbC_123-xyz' }],
      undefined,
    ],
    ['/start@bot without a token', msg('/start@tthc_bot'), [{ channel: 'telegram', userKey: '42', eventId: 'tg:7', kind: 'start' }], undefined],
    [
      'a tap',
      tap('3:2'),
      [{ channel: 'telegram', userKey: '42', eventId: 'tg:8', kind: 'choice', seq: 3, key: '2', replyTo: { messageId: 9, messageText: 'Câu hỏi' } }],
      { method: 'answerCallbackQuery', callback_query_id: 'cq1' },
    ],
    [
      'a tap on a button we cannot read (handled as stale)',
      tap('garbage!'),
      [{ channel: 'telegram', userKey: '42', eventId: 'tg:8', kind: 'choice', seq: -1, key: '', replyTo: { messageId: 9, messageText: 'Câu hỏi' } }],
      { method: 'answerCallbackQuery', callback_query_id: 'cq1' },
    ],
    ['an update type we do not handle', { update_id: 9, edited_message: { message_id: 1 } }, [], undefined],
  ])('%s', (_name, update, events, answer) => {
    const batch = parseUpdate(raw(update));
    expect(batch.events).toEqual(events);
    expect(batch.answer).toEqual(answer);
  });

  it.each([
    ['not JSON', '{not json', 'bad_json'],
    ['no update_id', { message: { text: 'x' } }, 'bad_update'],
    ['a chat id that is not a number', { update_id: 1, message: { message_id: 1, chat: { id: 'x' } } }, 'bad_update'],
  ])('refuses %s', (_name, body, code) => {
    expect(() => parseUpdate(raw(body))).toThrow(InboundRejected);
    try {
      parseUpdate(raw(body));
    } catch (err) {
      expect((err as InboundRejected).code).toBe(code);
      expect((err as InboundRejected).kind).toBe('malformed');
    }
  });
});

const question = (seq: number, text = 'Câu hỏi?'): Output => ({
  type: 'question',
  questionId: 'q',
  seq,
  text,
  choices: [
    { key: '1', label: 'Có' },
    { key: '2', label: 'Không' },
  ],
});
const kb = (seq: number) => [
  { text: 'Có', data: `${seq}:1` },
  { text: 'Không', data: `${seq}:2` },
];

describe('Telegram render: outputs -> operations', () => {
  it.each([
    [
      'a question after a tap: asked in the tapped message, under the choice (one call)',
      [{ type: 'chosen', questionId: 'p', label: 'Có' }, { type: 'text', text: 'Phần 2' }, question(4)],
      { messageId: 9, messageText: 'Trước?' },
      [{ m: 'edit', messageId: 9, text: '✅ Có\n\nPhần 2\n\nCâu hỏi?', keyboard: kb(4) }],
    ],
    [
      'the thanks after a tap: the tapped question shows the choice, the thanks is sent',
      [
        { type: 'chosen', questionId: 'p', label: 'Có' },
        { type: 'text', text: 'Cảm ơn' },
      ],
      { messageId: 9, messageText: 'Trước?' },
      [
        { m: 'edit', messageId: 9, text: 'Trước?\n\n✅ Có' },
        { m: 'send', text: 'Cảm ơn' },
      ],
    ],
    ['a question after typing: the old keyboard is retired', [question(5)], undefined, [{ m: 'send', text: 'Câu hỏi?', keyboard: kb(5), clearPrevious: true }]],
    [
      'texts folded into the question message',
      [{ type: 'text', text: 'Phần 2' }, question(6)],
      undefined,
      [{ m: 'send', text: 'Phần 2\n\nCâu hỏi?', keyboard: kb(6), clearPrevious: true }],
    ],
    [
      'texts alone',
      [
        { type: 'text', text: 'A' },
        { type: 'text', text: 'B' },
      ],
      undefined,
      [{ m: 'send', text: 'A\n\nB', clearPrevious: true }],
    ],
    ['a tap with no message to edit (a send we started)', [{ type: 'chosen', questionId: 'p', label: 'Có' }], undefined, []],
  ] as Array<[string, Output[], unknown, unknown[]]>)('%s', (_name, outputs, replyTo, ops) => {
    expect(renderTelegram(outputs, replyTo)).toEqual(ops);
  });

  it('a question too long to ask in the tapped message: the tapped one is marked, the question sent', () => {
    const ops = renderTelegram([{ type: 'chosen', questionId: 'p', label: 'Có' }, { type: 'text', text: 'x'.repeat(4090) }, question(4)], {
      messageId: 9,
      messageText: 'Trước?',
    });
    expect(ops[0]).toEqual({ m: 'edit', messageId: 9, text: 'Trước?\n\n✅ Có' });
    expect(ops.slice(1).every((o) => o.m === 'send' && o.text.length <= 4096)).toBe(true);
    expect(ops.at(-1)).toMatchObject({ m: 'send', keyboard: kb(4) });
  });

  it('splits a text over 4096 characters at a break, keeping the keyboard on the last part', () => {
    const ops = renderTelegram([{ type: 'text', text: `${'a '.repeat(3000)}` }, question(2)]);
    expect(ops).toHaveLength(2);
    expect(ops.every((o) => o.text.length <= 4096)).toBe(true);
    expect(ops[0]).not.toHaveProperty('keyboard');
    expect(ops[1]).toMatchObject({ keyboard: kb(2) });
  });
});

const tgError = (error_code: number, description: string, retry_after?: number) =>
  new TelegramError({ ok: false, error_code, description, ...(retry_after ? { parameters: { retry_after } } : {}) } as never);

describe('Telegram errors -> send results', () => {
  const send = { m: 'send' as const, text: 'x' };
  const edit = { m: 'edit' as const, messageId: 1, text: 'x' };
  it.each([
    ['429 with retry_after', tgError(429, 'Too Many Requests: retry after 7', 7), send, { ok: false, kind: 'retry_after', ms: 7000 }],
    ['429 without retry_after', tgError(429, 'Too Many Requests'), send, { ok: false, kind: 'retry_after', ms: 5000 }],
    [
      '403 blocked',
      tgError(403, 'Forbidden: bot was blocked by the user'),
      send,
      { ok: false, kind: 'unreachable', reason: 'Forbidden: bot was blocked by the user' },
    ],
    ['400 chat not found', tgError(400, 'Bad Request: chat not found'), send, { ok: false, kind: 'unreachable', reason: 'Bad Request: chat not found' }],
    [
      '400 on an edit',
      tgError(400, 'Bad Request: message to edit not found'),
      edit,
      { ok: false, kind: 'skip', reason: 'Bad Request: message to edit not found' },
    ],
    [
      'another 400 on a send',
      tgError(400, 'Bad Request: text is too long'),
      send,
      { ok: false, kind: 'skip', reason: 'Telegram 400: Bad Request: text is too long' },
    ],
  ] as const)('%s', (_name, err, op, result) => {
    expect(mapTelegramError(err, op)).toEqual(result);
  });

  it.each([
    ['a 5xx', tgError(502, 'Bad Gateway')],
    ['a network error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
  ])('%s is transient (retried with backoff)', (_name, err) => {
    expect(() => mapTelegramError(err, send)).toThrow(TransientSendError);
  });
});
