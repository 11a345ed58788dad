// npm run flows:check — validates every flow file, every translation (flows/i18n: no key missing
// or stray) and the campaign files that reference them.
import { join } from 'node:path';
import { loadFlows } from '../src/engine/load.js';
import { loadCampaignFiles } from '../src/invitations/campaign.js';
import { projectRoot } from '../src/local/paths.js';

try {
  const flows = loadFlows(join(projectRoot, 'flows'));
  for (const f of flows.all())
    console.log(`ok  ${f.key}  ${f.questions.length} questions  languages ${[...f.variants.keys()].join(', ')}  (${f.file.slice(projectRoot.length + 1)})`);
  for (const c of loadCampaignFiles(join(projectRoot, 'campaigns'))) {
    for (const key of Object.values(c.flows)) flows.get(key);
    console.log(`ok  campaign ${c.id}: ${c.units.length} units, ${c.fields.length} fields, ${c.agencies.length} agencies`);
  }
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
