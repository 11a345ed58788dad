// Property-based tests (fast-check): at least 10,000 generated inputs per
// target, including huge strings, wrong types, unicode edge cases (NUL, lone
// surrogates, RTL, zero-width) and ids above 2^53. Parsers either return a
// well-formed result or refuse with their named error; nothing else escapes.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuditBody } from '../src/audits/audits.js';
import { InboundRejected } from '../src/channels/channel.js';
import { startSession, step } from '../src/engine/interpreter.js';
import { loadFlows } from '../src/engine/load.js';
import { matchCommand, matchOption, normalize } from '../src/engine/match.js';
import { agencyBallotsBody } from '../src/invitations/agency-ballots.js';
import { CODE_ALPHABET, findCode, normalizeCode } from '../src/invitations/codes.js';
import { createInvitationBody } from '../src/invitations/invitations.js';
import { parseUpdate } from '../webhooks/telegram/inbound.js';
import { parseZaloWebhook, zaloSignature } from '../webhooks/zalo/inbound.js';

const RUNS = 10_000;
const options = { numRuns: RUNS, seed: 20_261_129 };

/** Strings people and attackers type: any unicode (lone surrogates included), and the usual troublemakers mixed in. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.constantFrom('\u0000', '\u200b', '\u202e', '\ud800', '\udfff', '\ufeff', 'ﷺ', '🇻🇳', 'a\u0300', '$where', '__proto__', '{"$gt":""}', '../../etc/passwd'),
  fc.string({ maxLength: 5 }).map((s) => s.repeat(20_000)),
);
/** Any JSON-ish value, with wrong types in every place. */
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    nasty,
    fc.integer(),
    fc.double(),
    fc.bigInt().map((b) => b.toString()),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(nasty, fc.constantFrom('__proto__', 'constructor', '$gt', 'a.b')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const expectOnly = (fn: () => unknown, allowed: (err: unknown) => boolean) => {
  try {
    fn();
  } catch (err) {
    if (!allowed(err)) throw err;
  }
};

describe('webhook parsers', () => {
  it(`Telegram: ${RUNS} bodies (bytes, JSON of any shape, updates with wrong fields and ids above 2^53)`, () => {
    const update = fc.record(
      {
        update_id: fc.oneof(fc.integer(), fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n }).map(Number), nasty),
        message: fc.record(
          { message_id: fc.integer(), chat: fc.record({ id: fc.oneof(fc.integer(), fc.double(), nasty), type: nasty }), text: anyValue },
          { requiredKeys: [] },
        ),
        callback_query: fc.record({ id: nasty, data: nasty, from: fc.record({ id: fc.integer() }) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          anyValue.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
          update.map((u) => Buffer.from(JSON.stringify(u))),
        ),
        (raw) => {
          expectOnly(
            () => {
              const batch = parseUpdate(raw);
              for (const ev of batch.events) {
                expect(ev.channel).toBe('telegram');
                expect(typeof ev.userKey).toBe('string');
              }
            },
            (err) => err instanceof InboundRejected,
          );
        },
      ),
      options,
    );
  });

  it(`Zalo: ${RUNS} signed and unsigned bodies; only a valid signature gets through, and user ids stay exact strings`, () => {
    const s = { appId: '123', oaSecretKey: 'k', oaId: '9' };
    fc.assert(
      fc.property(anyValue, fc.boolean(), fc.oneof(nasty, fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }).map(String)), (event, sign, userId) => {
        const body = {
          app_id: s.appId,
          timestamp: '1700000000000',
          event_name: 'user_send_text',
          sender: { id: userId },
          recipient: { id: s.oaId },
          message: { msg_id: 'm', text: event },
        };
        const raw = Buffer.from(JSON.stringify(body));
        const headers = sign ? { 'x-zevent-signature': `mac=${zaloSignature(s.appId, raw, body.timestamp, s.oaSecretKey)}` } : {};
        expectOnly(
          () => {
            const batch = parseZaloWebhook(raw, headers, s as never);
            expect(sign).toBe(true);
            for (const ev of batch.events) expect(ev.userKey).toBe(userId);
          },
          (err) => err instanceof InboundRejected && (sign || err.kind === 'unauthorized'),
        );
      }),
      options,
    );
  });
});

describe('answers and codes', () => {
  const flows = loadFlows(join(import.meta.dirname, '../flows'));
  const flow = flows.get('citizen-satisfaction@2');
  const scale = flow.optionsOf.get('access_location')!;

  it(`typed answers: ${RUNS} texts select an existing option or nothing, and commands are known ones`, () => {
    fc.assert(
      fc.property(nasty, (text) => {
        const n = matchOption(scale, text);
        expect(n === undefined || (Number.isInteger(n) && n >= 1 && n <= scale.length)).toBe(true);
        const c = matchCommand(text, false);
        expect(c === undefined || ['back', 'restart', 'stop', 'help', 'skip'].includes(c)).toBe(true);
        expect(typeof normalize(text)).toBe('string');
      }),
      options,
    );
  });

  it(`codes: ${RUNS} texts give a code of the alphabet or nothing; a code inside any sentence is found`, () => {
    fc.assert(
      fc.property(nasty, (text) => {
        for (const code of [normalizeCode(text), findCode(text)]) {
          if (code !== undefined) expect(code).toMatch(new RegExp(`^[${CODE_ALPHABET}]{8}$`));
        }
      }),
      options,
    );
    const code = fc.array(fc.constantFrom(...CODE_ALPHABET), { minLength: 8, maxLength: 8 }).map((a) => a.join(''));
    fc.assert(
      fc.property(code, fc.constantFrom('Mã của tôi là ', 'ma ', '', 'code: '), fc.boolean(), (c, before, dash) => {
        expect(findCode(`${before}${dash ? `${c.slice(0, 4)}-${c.slice(4)}` : c.toLowerCase()}`)).toBe(c);
      }),
      { numRuns: 2_000, seed: 1 },
    );
  });

  it(`the engine: ${RUNS} random inputs to a survey in progress never throw and keep the session well-formed`, () => {
    const input = fc.oneof(
      nasty.map((text) => ({ type: 'text' as const, text })),
      fc.record({
        type: fc.constant('choice' as const),
        seq: fc.integer({ min: -1, max: 40 }),
        key: fc.oneof(nasty, fc.constantFrom('1', '2', '5', '6', 'skip', 'back', 'stop', 'langen', 'langxx')),
      }),
      fc.constantFrom(
        { type: 'tick' as const },
        { type: 'resume' as const },
        { type: 'back' as const },
        { type: 'restart' as const },
        { type: 'lang' as const },
      ),
    );
    fc.assert(
      fc.property(fc.array(input, { minLength: 1, maxLength: 8 }), (inputs) => {
        let s = startSession(flow, 'inv', { unitName: 'U', caseCode: 'C', contactsKeptUntil: '01/01/2026' }, 0).session;
        for (const i of inputs) {
          s = step(flow, s, i, 1).session;
          expect(['active', 'completed', 'abandoned']).toContain(s.status);
          if (s.status === 'active') expect(flow.indexOf.has(s.q!)).toBe(true);
        }
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });
});

describe('API bodies', () => {
  it(`${RUNS} bodies per schema: parsed into the declared shape or refused, never an operator or an unknown key`, () => {
    for (const schema of [createInvitationBody, agencyBallotsBody, createAuditBody]) {
      fc.assert(
        fc.property(anyValue, (body) => {
          const r = schema.safeParse(body);
          if (r.success) expect(JSON.stringify(r.data)).not.toMatch(/"\$|__proto__/);
        }),
        options,
      );
    }
  });
});
