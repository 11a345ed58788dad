// The shared channel contract: every channel adapter runs these cases against
// its own platform emulator (webhooks/<channel> through its real HTTP client).
// A channel test file supplies a harness; the cases are the same for all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/channels/channel.js';
import type { Output } from '../../src/engine/interpreter.js';
import { api, eventually, type TestService } from '../helpers/context.js';

export interface ContractMessage {
  text: string;
  buttons: string[];
  /** The platform's message as it was when read (its buttons included), for tapping it again later. */
  ref: unknown;
}

/** One respondent on the emulated platform (`platform`: the emulator's own user object). */
export interface ContractUser<P = unknown> {
  platform: P;
  /** The deep link of the channel, if it has one (undefined: the channel starts only by code). */
  startByLink?(token: string): Promise<number>;
  send(text: string): Promise<number>;
  /** Taps a button of the newest message with buttons, or of `on` (a message seen earlier). */
  tap(label: string, on?: ContractMessage): Promise<number>;
  messages(): ContractMessage[];
  /** Where the conversation stands now (opaque): see `since`. */
  mark(): number;
  /** Messages that appeared or changed after `mark` (a platform may ask the next question by editing the tapped one). */
  since(mark: number): ContractMessage[];
}

export interface ContractHarness<P = unknown> {
  t: TestService;
  channel: Channel;
  /** The platform's limit on one message text. */
  textLimit: number;
  newUser(): ContractUser<P>;
  /** The platform answers the user's next send with "too many requests, retry after `seconds`". */
  rateLimitNext(u: ContractUser<P>, seconds: number): void;
  /** The user blocked the bot / unfollowed the account. */
  block(u: ContractUser<P>): void;
  /** Sends the platform received for this user (attempts, successful or not). */
  sendAttempts(u: ContractUser<P>): Array<{ at: number }>;
  /** Whether the core marked the user unreachable. */
  isUnreachable(u: ContractUser<P>): Promise<boolean>;
  close(): Promise<void>;
}

const CONSENT = 'Kính chào';
const FIRST_ITEM = 'Nơi tiếp nhận hồ sơ dễ tìm';
const SECOND_ITEM = 'Nơi tiếp nhận có đủ chỗ ngồi';

async function waitForText(u: ContractUser<unknown>, text: string, mark = 0, timeoutMs = 10_000) {
  await eventually(async () => u.since(mark).some((m) => m.text.includes(text)), `"${text}" after mark ${mark}`, timeoutMs);
  return u.since(mark).find((m) => m.text.includes(text))!;
}

export function channelContract<P>(name: string, setUp: () => Promise<ContractHarness<P>>) {
  describe(`channel contract: ${name}`, () => {
    let h: ContractHarness<P>;
    let officer: string;
    let n = 0;
    beforeAll(async () => {
      h = await setUp();
      officer = await h.t.key('officer', 'PC08');
    });
    afterAll(() => h.close());

    const invite = async (extra: Record<string, unknown> = { respondentType: 'citizen' }) => {
      const r = await api(h.t.baseUrl, officer, 'POST', '/api/invitations', {
        caseCode: `${name.toUpperCase()}-C${n++}`,
        unit: 'PC08',
        field: 'dang-ky-xe',
        ...extra,
      });
      expect(r.status).toBe(201);
      return r.body as { id: string; token: string; code: string };
    };
    /** A respondent at the first scale question. */
    const atFirstItem = async () => {
      const inv = await invite();
      const u = h.newUser();
      expect(await u.send(inv.code)).toBe(200);
      await waitForText(u, CONSENT);
      await u.tap('Đồng ý tham gia');
      await waitForText(u, FIRST_ITEM);
      return { u, inv };
    };

    it('starts by the deep link, where the channel has one', async () => {
      const inv = await invite();
      const u = h.newUser();
      if (!u.startByLink) return; // the channel starts by code only; covered below
      expect(await u.startByLink(inv.token)).toBe(200);
      await waitForText(u, CONSENT);
    });

    it('starts by the typed code, in any case, with spaces or a hyphen, or inside a sentence', async () => {
      const forms = [
        (c: string) => c.toLowerCase(),
        (c: string) => `${c.slice(0, 4)} ${c.slice(4)}`,
        (c: string) => `Mã của tôi là ${c.slice(0, 4)}-${c.slice(4)}`,
      ];
      for (const form of forms) {
        const inv = await invite();
        const u = h.newUser();
        await u.send(form(inv.code));
        await waitForText(u, CONSENT);
      }
    });

    it('takes a tap and a typed answer', async () => {
      const { u } = await atFirstItem();
      const before = u.mark();
      await u.tap('Hài lòng');
      await waitForText(u, SECOND_ITEM, before);
      const after = u.mark();
      await u.send('rat hai long');
      await waitForText(u, 'Trang thiết bị phục vụ', after);
    });

    it('answers a stale tap politely and asks the current question again', async () => {
      const { u } = await atFirstItem();
      const snapshot = u.messages().findLast((m) => m.text.includes(FIRST_ITEM))!;
      await u.tap('Hài lòng');
      await waitForText(u, SECOND_ITEM);
      const before = u.mark();
      await u.tap('Bình thường', snapshot);
      await waitForText(u, 'Câu hỏi đó đã được trả lời', before);
      expect(u.since(before).some((m) => m.text.includes(SECOND_ITEM) && m.buttons.includes('Rất hài lòng'))).toBe(true);
    });

    it('goes back to the previous question', async () => {
      const { u } = await atFirstItem();
      await u.tap('Hài lòng');
      await waitForText(u, SECOND_ITEM);
      const before = u.mark();
      await u.send('quay lại');
      await waitForText(u, 'trả lời lại câu hỏi trước', before);
      await waitForText(u, FIRST_ITEM, before);
    });

    it('stops on request and sends nothing more about that survey', async () => {
      const { u } = await atFirstItem();
      const before = u.mark();
      await u.send('/stop');
      await waitForText(u, 'Đã dừng khảo sát', before);
    });

    it('honours a 429 with retry_after: the message goes out after it', async () => {
      const inv = await invite();
      const u = h.newUser();
      h.rateLimitNext(u, 1);
      await u.send(inv.code);
      await waitForText(u, CONSENT, 0, 10_000);
      const attempts = h.sendAttempts(u);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
    });

    it('marks a user who blocked the channel unreachable, and does not retry', async () => {
      const inv = await invite();
      const u = h.newUser();
      h.block(u);
      await u.send(inv.code);
      await eventually(() => h.isUnreachable(u), 'the unreachable mark');
      await new Promise((r) => setTimeout(r, 300));
      expect(h.sendAttempts(u)).toHaveLength(1);
    });

    it('renders a text longer than the platform allows as operations the platform accepts', () => {
      const long = `${'Đoạn văn dài. '.repeat(Math.ceil((h.textLimit * 2.5) / 14))}`;
      const outputs: Output[] = [
        { type: 'text', text: long },
        { type: 'question', questionId: 'q', seq: 3, text: 'Câu hỏi?', choices: [{ key: '1', label: 'Có' }] },
      ];
      const ops = h.channel.render(outputs);
      expect(ops.length).toBeGreaterThanOrEqual(3);
      for (const op of ops) expect(h.channel.opSchema.safeParse(op).success).toBe(true);
    });
  });
}
