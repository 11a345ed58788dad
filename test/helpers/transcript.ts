// How golden transcripts print engine outputs and the state after each step.
import type { Output, Session } from '../../src/engine/interpreter.js';

export function renderOutput(o: Output): string {
  switch (o.type) {
    case 'question':
      return `< [${o.questionId} #${o.seq}] ${o.text}${o.choices.length ? `\n${o.choices.map((c) => `    (${c.key}) ${c.label}`).join('\n')}` : ''}`;
    case 'text':
      return `< ${o.text}`;
    case 'chosen':
      return `< ✓ ${o.questionId}: ${o.label}`;
  }
}

/** The session after a step, as goflow's runner tests record it: what changed is visible in review. Times are left out (they follow the script). */
export function sessionLine(s: Session | undefined): string {
  if (!s) return '= (no survey)';
  const { ref, status, q, seq, bad, hist, ans, lang } = s;
  return `= ${JSON.stringify({ ref, status, q, seq, bad, hist: hist.length, ans, ...(lang ? { lang } : {}) })}`;
}
