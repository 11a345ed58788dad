// Golden conversations of the conversation layer (src/conversations/decide.ts),
// pure like the engine's: each test/conversations/decide/<case>.yaml scripts
// events against named invitations; the transcript, with the conversation
// after each step, must equal <case>.golden.txt (UPDATE_GOLDEN=1 rewrites it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Conversation } from '../../src/conversations/conversation.js';
import { decide, type EventInput, type OpenResult } from '../../src/conversations/decide.js';
import { loadFlows } from '../../src/engine/load.js';
import { renderOutput, sessionLine } from '../helpers/transcript.js';

const dir = join(import.meta.dirname, 'decide');
const flows = loadFlows(join(import.meta.dirname, '../../flows'));

interface Case {
  invitations: Record<string, { flow: string; ctx: Record<string, string> }>;
  steps: string[];
}

/** "open A" (a /start with A's token), "refused used" (an opening MongoDB/Redis refused), "say \"...\"", "tap 3", "tap@0 keep", "start" (no token). */
function parseStep(line: string, c: Case, conv: Conversation): { ev: EventInput; opening?: OpenResult } {
  const [verb, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  const tap = /^tap(?:@(\d+))?$/.exec(verb!);
  if (tap) return { ev: { kind: 'choice', seq: tap[1] ? Number(tap[1]) : (conv.s?.seq ?? 0), key: arg } };
  switch (verb) {
    case 'open': {
      const inv = c.invitations[arg];
      if (!inv) throw new Error(`unknown invitation ${arg}`);
      return { ev: { kind: 'start', token: arg }, opening: { ok: true, start: { ref: arg, flow: inv.flow, ctx: inv.ctx } } };
    }
    case 'refused':
      return { ev: { kind: 'start', token: 'x' }, opening: { ok: false, reason: arg as Exclude<OpenResult, { ok: true }>['reason'] } };
    case 'say':
      return { ev: { kind: 'text', text: JSON.parse(arg) as string } };
    case 'start':
      return { ev: { kind: 'start' } };
    default:
      throw new Error(`bad step: ${line}`);
  }
}

const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('conversation decisions (golden)', () => {
  it.each(cases)('%s', (file) => {
    const c = parse(readFileSync(join(dir, file), 'utf8')) as Case;
    let conv: Conversation = {};
    let now = 1_700_000_000_000;
    const lines: string[] = [];
    for (const line of c.steps) {
      now += 5_000;
      const { ev, opening } = parseStep(line, c, conv);
      const d = decide(flows, conv, ev, opening, now);
      conv = d.conversation;
      lines.push(
        [
          `> ${line}`,
          ...d.outputs.map(renderOutput),
          ...d.events.map((e) => `* ${Object.values(e).join(' ')}`),
          ...(d.opened ? [`+ opened ${d.opened}`] : []),
          sessionLine(conv.s),
          ...(conv.offer ? [`= offer ${conv.offer.ref}`] : []),
        ].join('\n'),
      );
    }
    const text = `${lines.join('\n\n')}\n`;
    const golden = join(dir, file.replace(/\.yaml$/, '.golden.txt'));
    if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });
});
