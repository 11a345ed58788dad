// npm run seed — loads campaigns/*.yaml into MongoDB (upsert; the newest period is active).
import { join } from 'node:path';
import { loadFlows } from '../src/engine/load.js';
import { seedCampaigns } from '../src/invitations/seed.js';
import { projectRoot } from '../src/local/paths.js';
import { connectForCli } from './cli.js';

const { db } = await connectForCli();
try {
  const ids = await seedCampaigns(db.models, loadFlows(join(projectRoot, 'flows')), join(projectRoot, 'campaigns'));
  console.log(`seeded campaigns: ${ids.join(', ')}`);
} finally {
  await db.close();
}
