// npm run db:indexes — creates the database indexes, one at a time. `npm start`
// (ROLE all or worker) does it too; run it before a web-only deployment.
import { ensureIndexes } from '../src/db.js';
import { connectForCli } from './cli.js';

const { db } = await connectForCli();
try {
  await ensureIndexes(db.models);
  console.log(
    `indexes ready: ${Object.values(db.models)
      .map((m) => m.collection.name)
      .join(', ')}`,
  );
} finally {
  await db.close();
}
