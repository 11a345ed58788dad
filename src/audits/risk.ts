// Risk signals per ballot (METHOD.md section 5): patterns that make a result
// less credible. With risk weighting on, a ballot's weight in the draw is
// 1 + RISK_WEIGHT x (its number of signals).
export const RISK_SIGNALS = {
  'one-respondent-many-cases': 'one respondent (chat account) answered for several cases or units',
  'completed-soon-after-creation': 'completed within 5 minutes of the invitation being created',
  'very-fast': 'answered in under 60 seconds',
  'identical-answers-same-officer': 'three or more ballots of one officer with identical answers',
  'same-chat-same-desk': 'one chat answered several cases of the same officer',
} as const;
export type RiskSignal = keyof typeof RISK_SIGNALS;

export const RISK_WEIGHT = 3;
export const weightingText = `weight = 1 + ${RISK_WEIGHT} x number of risk signals (${Object.entries(RISK_SIGNALS)
  .map(([k, v]) => `${k}: ${v}`)
  .join('; ')})`;

export interface BallotFacts {
  id: string;
  respondent: string;
  unit: string;
  /** The officer key that created the invitation. */
  createdBy: string;
  invitationCreatedAt: number;
  completedAt: number;
  durationSec: number;
  /** The chosen answers as one string (free text left out). */
  answerVector: string;
}

export function riskSignals(ballots: BallotFacts[]): Map<string, RiskSignal[]> {
  const count = <K>(keys: K[]) => keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<K, number>());
  const perRespondent = count(ballots.map((b) => b.respondent));
  const perRespondentDesk = count(ballots.map((b) => `${b.respondent}|${b.createdBy}`));
  const perDeskVector = count(ballots.map((b) => `${b.createdBy}|${b.answerVector}`));
  const out = new Map<string, RiskSignal[]>();
  for (const b of ballots) {
    const s: RiskSignal[] = [];
    if (perRespondent.get(b.respondent)! > 1) s.push('one-respondent-many-cases');
    if (b.completedAt - b.invitationCreatedAt < 5 * 60_000) s.push('completed-soon-after-creation');
    if (b.durationSec < 60) s.push('very-fast');
    if (perDeskVector.get(`${b.createdBy}|${b.answerVector}`)! >= 3) s.push('identical-answers-same-officer');
    if (perRespondentDesk.get(`${b.respondent}|${b.createdBy}`)! > 1) s.push('same-chat-same-desk');
    out.set(b.id, s);
  }
  return out;
}
