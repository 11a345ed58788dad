// The agency opinion survey (Phụ lục 01b): PV01 issues one ballot per agency
// (and per named respondent) in one batch; each is an invitation of kind
// "agency" for the police unit the agency assesses, answered on any channel.
import { z } from 'zod';
import { decrypt, encrypt } from '../crypto.js';
import { dmy } from '../days.js';
import type { Models } from '../db.js';
import type { Campaign } from './campaign.js';
import { unitOf } from './campaign.js';
import { type Actor, contactsKeptUntil, InvitationError, type Invitations, type InvitationView } from './invitations.js';

const agencyCode = z.string().regex(/^[A-Za-z0-9_-]{2,32}$/, 'agency codes are 2-32 characters of A-Z a-z 0-9 _ -');

export const agencyBallotsBody = z.strictObject({
  /** The agencies to issue to; all of the campaign's when absent. */
  agencies: z.array(agencyCode).min(1).max(500).optional(),
  /** Named respondents per agency: one ballot each instead of one for the agency. */
  respondents: z.record(agencyCode, z.array(z.string().trim().min(1).max(120)).min(1).max(50)).optional(),
});
export type AgencyBallotsBody = z.infer<typeof agencyBallotsBody>;

export interface AgencyBallot extends InvitationView {
  agency: string;
  agencyName: string;
  level: string;
  unitName: string;
  /** The named respondent, when the ballot is addressed to one. */
  addressee: string | null;
}

export interface AgencyProgress {
  agency: string;
  name: string;
  level: string;
  unit: string;
  sent: number;
  received: number;
  /** When the last ballot of the agency came back (ISO), or null. */
  lastReceivedAt: string | null;
}

export class AgencyBallots {
  constructor(
    private readonly invitations: Invitations,
    private readonly models: Models,
    private readonly encryptionKey: Buffer,
  ) {}

  /** Issues the batch; ballots already issued are returned as they are (a rerun creates nothing twice). */
  async issue(body: AgencyBallotsBody, actor: Actor): Promise<{ created: number; existing: number; ballots: AgencyBallot[] }> {
    const campaign = await this.invitations.currentCampaign();
    if (!campaign.flows.agency) throw new InvitationError('invalid', 'no_agency_flow', `campaign ${campaign.id} has no agency questionnaire (flows.agency)`);
    const known = new Map(campaign.agencies.map((a) => [a.code, a]));
    const wanted = body.agencies ?? campaign.agencies.map((a) => a.code);
    const unknown = [...wanted, ...Object.keys(body.respondents ?? {})].filter((c) => !known.has(c));
    if (unknown.length)
      throw new InvitationError('invalid', 'unknown_agency', `agencies: unknown agency ${[...new Set(unknown)].join(', ')} in campaign ${campaign.id}`);
    const outside = Object.keys(body.respondents ?? {}).filter((c) => !wanted.includes(c));
    if (outside.length) throw new InvitationError('invalid', 'invalid', `respondents: ${outside.join(', ')} not among the agencies issued to`);
    if (!wanted.length) throw new InvitationError('invalid', 'unknown_agency', `campaign ${campaign.id} lists no agencies`);

    let created = 0;
    const ballots: AgencyBallot[] = [];
    for (const code of wanted) {
      const agency = known.get(code)!;
      const unit = unitOf(campaign, agency.assesses)!;
      const names = body.respondents?.[code];
      const addressees: Array<string | undefined> = names ?? [undefined];
      for (const [i, addressee] of addressees.entries()) {
        const r = await this.invitations.insert(campaign, {
          kind: 'agency',
          unit: unit.code,
          unitName: unit.name,
          agency: agency.code,
          caseCode: names ? `CQ-${agency.code}-${i + 1}` : `CQ-${agency.code}`,
          ...(addressee ? { addresseeEnc: encrypt(this.encryptionKey, addressee) } : {}),
          flow: campaign.flows.agency,
          ctx: contextOf(campaign, agency, unit.name),
          createdBy: actor.keyId,
        });
        if (r.created) created += 1;
        ballots.push({ ...r.view, agency: agency.code, agencyName: agency.name, level: agency.level, unitName: unit.name, addressee: addressee ?? null });
      }
    }
    return { created, existing: ballots.length - created, ballots };
  }

  /** Every agency ballot of the running campaign, with its addressee (for the letters). */
  async list(): Promise<AgencyBallot[]> {
    const campaign = await this.invitations.currentCampaign();
    const agencies = new Map(campaign.agencies.map((a) => [a.code, a]));
    const docs = await this.models.Invitation.find({ campaign: campaign.id, kind: 'agency' }).sort({ agency: 1, caseCode: 1 }).lean();
    return docs.map((d) => {
      const agency = agencies.get(d.agency ?? '');
      return {
        ...this.invitations.view(d),
        agency: d.agency ?? '',
        agencyName: agency?.name ?? d.agency ?? '',
        level: agency?.level ?? '',
        unitName: d.unitName ?? d.unit,
        addressee: d.addresseeEnc ? decrypt(this.encryptionKey, d.addresseeEnc) : null,
      };
    });
  }

  /** Sent and received per agency (received: the ballot was answered). */
  async progress(): Promise<AgencyProgress[]> {
    const campaign = await this.invitations.currentCampaign();
    const docs = await this.models.Invitation.find({ campaign: campaign.id, kind: 'agency' }, { agency: 1, status: 1, completedAt: 1 }).lean();
    return campaign.agencies.map((a) => {
      const mine = docs.filter((d) => d.agency === a.code);
      const received = mine.filter((d) => d.status === 'completed');
      const last = received.map((d) => d.completedAt?.getTime() ?? 0).sort((x, y) => y - x)[0];
      return {
        agency: a.code,
        name: a.name,
        level: a.level,
        unit: a.assesses,
        sent: mine.length,
        received: received.length,
        lastReceivedAt: last ? new Date(last).toISOString() : null,
      };
    });
  }
}

/** What the agency questionnaire's texts are filled with. */
function contextOf(campaign: Campaign, agency: Campaign['agencies'][number], unitName: string): Record<string, string> {
  const period = campaign.opinionPeriod ?? campaign.period;
  return {
    agencyName: agency.name,
    unitName,
    organization: campaign.organization,
    periodFrom: dmy(period.from),
    periodTo: dmy(period.to),
    caseCode: `CQ-${agency.code}`,
    contactsKeptUntil: dmy(contactsKeptUntil(campaign)),
  };
}
