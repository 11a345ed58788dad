// Golden conversations: each test/flows/<flow>.<case>.yaml scripts inputs; the
// transcript must equal <flow>.<case>.golden.txt (UPDATE_GOLDEN=1 rewrites it)
// and the final status/answers must equal the case's `expect`.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Input, type Session, type StepResult, startSession, step } from '../../src/engine/interpreter.js';
import { loadFlows } from '../../src/engine/load.js';
import { renderOutput, sessionLine } from '../helpers/transcript.js';

const dir = import.meta.dirname;
const flows = loadFlows(join(dir, '../../flows'));

interface Case {
  flow: string;
  context?: Record<string, string>;
  inputs: string[];
  expect: { status: Session['status']; answers: Session['ans'] };
}

/** "tap 3 *14" -> 14 inputs, each built against the session as it is then (taps carry the current seq). */
function parseInput(line: string): Array<(session: Session) => Input> {
  const m = /^(\w+)(?:@(\d+))?(?: (.*?))?(?: \*(\d+))?$/.exec(line);
  if (!m) throw new Error(`bad input line: ${line}`);
  const [, verb, seq, arg = '', times = '1'] = m;
  const one = (): ((session: Session) => Input) => {
    switch (verb) {
      case 'tap':
        return (session: Session) => ({ type: 'choice', seq: seq ? Number(seq) : session.seq, key: arg });
      case 'say':
        return () => ({ type: 'text', text: JSON.parse(arg) as string });
      case 'tick':
      case 'expire':
        return () => ({ type: verb as 'tick' | 'expire' });
      default:
        throw new Error(`unknown verb ${verb}`);
    }
  };
  return Array.from({ length: Number(times) }, one);
}

function transcript(line: string, r: StepResult): string {
  const events = r.events.map((e) => `* ${Object.values(e).join(' ')}`);
  return [`> ${line}`, ...r.outputs.map(renderOutput), ...events, sessionLine(r.session)].join('\n');
}

const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('golden conversations', () => {
  it('covers every shipped flow', () => {
    const covered = new Set(cases.map((f) => (parse(readFileSync(join(dir, f), 'utf8')) as Case).flow));
    for (const f of flows.all()) expect(covered).toContain(f.key);
  });

  it.each(cases)('%s', (file) => {
    const c = parse(readFileSync(join(dir, file), 'utf8')) as Case;
    const flow = flows.get(c.flow);
    const lines: string[] = [];
    let session: Session | undefined;
    let now = 1_700_000_000_000;
    for (const line of c.inputs) {
      now += 7_000;
      if (line === 'start') {
        const r = startSession(flow, 'inv-1', c.context ?? {}, now);
        session = r.session;
        lines.push(transcript(line, r));
        continue;
      }
      for (const makeInput of parseInput(line)) {
        const r = step(flow, session!, makeInput(session!), now);
        session = r.session;
        lines.push(transcript(line, r));
      }
    }
    const text = `${lines.join('\n\n')}\n`;
    const goldenFile = join(dir, file.replace(/\.yaml$/, '.golden.txt'));
    if (process.env.UPDATE_GOLDEN || !existsSync(goldenFile)) writeFileSync(goldenFile, text);
    expect(text).toBe(readFileSync(goldenFile, 'utf8'));
    expect(session!.status).toBe(c.expect.status);
    expect(session!.ans).toEqual(c.expect.answers);
  });
});
