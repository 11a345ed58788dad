// npm run seed [-- --active <campaign id>] — loads campaigns/*.yaml into MongoDB
// (upsert). The running campaign is --active, else the one with the newest period.
import { join } from 'node:path';
import { loadFlows } from '../src/engine/load.js';
import { seedCampaigns } from '../src/invitations/seed.js';
import { projectRoot } from '../src/local/paths.js';
import { connectForCli, flags } from './cli.js';

const f = flags(process.argv.slice(2));
const { db } = await connectForCli();
let exit = 0;
try {
  const ids = await seedCampaigns(db.models, loadFlows(join(projectRoot, 'flows')), join(projectRoot, 'campaigns'), f.active);
  const running = await db.models.Campaign.findOne({ active: true }).lean();
  console.log(`seeded campaigns: ${ids.join(', ')}; running: ${running?._id}`);
} catch (err) {
  console.error((err as Error).message);
  exit = 2;
} finally {
  await db.close();
}
process.exit(exit);
