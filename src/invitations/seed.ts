import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { type Campaign, loadCampaignFiles } from './campaign.js';

/** Upserts the campaign files; `active` (default: the newest period) is the running campaign. Returns the ids written. */
export async function seedCampaigns(models: Models, flows: FlowRegistry, dir: string, active?: string): Promise<string[]> {
  const campaigns = loadCampaignFiles(dir);
  for (const c of campaigns) checkFlows(c, flows);
  if (active && !campaigns.some((c) => c.id === active))
    throw new Error(`no campaign "${active}" in ${dir} (there are ${campaigns.map((c) => c.id).join(', ')})`);
  const running = active ?? [...campaigns].sort((a, b) => b.period.from.localeCompare(a.period.from))[0]?.id;
  for (const c of campaigns) {
    await models.Campaign.updateOne({ _id: c.id }, { $set: { data: c, active: c.id === running, updatedAt: new Date() } }, { upsert: true });
  }
  return campaigns.map((c) => c.id);
}

function checkFlows(c: Campaign, flows: FlowRegistry) {
  for (const key of [c.flows.citizen, c.flows.agency, c.flows.audit]) if (key) flows.get(key);
}

/** A flow version that responses reference must not change: refuse to start if its file was edited. */
export async function checkFlowVersions(models: Models, flows: FlowRegistry): Promise<void> {
  const used = await models.FlowVersion.find().lean();
  const problems: string[] = [];
  for (const u of used) {
    let flow: ReturnType<FlowRegistry['get']>;
    try {
      flow = flows.get(String(u._id));
    } catch {
      problems.push(`${u._id}: responses reference it but flows/ no longer has it`);
      continue;
    }
    if (u.hash && u.hash !== flow.hash) problems.push(`${u._id}: ${flow.file} changed after responses referenced it; add a new version file instead`);
  }
  if (problems.length) throw new Error(`flow versions are immutable once used:\n  - ${problems.join('\n  - ')}`);
}
