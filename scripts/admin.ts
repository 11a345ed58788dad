// npm run admin -- <command> [--flags]
//   keys:create --role officer|pv01|admin [--unit PC06] [--sub-units] [--label "..."]   prints the key once
//   units:import <file.csv> [--campaign id] [--dry-run]   add or update units (code,name,parent,fields)
//   keys:revoke --id <key id>
//   counters:check [--campaign id] [--fix]
//   data:reencrypt                        after a DATA_ENCRYPTION_KEY rotation: move data to the new key
//   zalo:reset-tokens                     forget the stored Zalo token pair (after Zalo refused it)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptPreviousKeys } from '../src/crypto.js';
import { reencryptAll } from '../src/data-keys.js';
import { loadFlows } from '../src/engine/load.js';
import { createApiKey, type Role } from '../src/http/auth.js';
import { allocateQuotas, type Campaign, unitAndBelow, unitOf } from '../src/invitations/campaign.js';
import { checkInvitationCounts } from '../src/invitations/counts.js';
import { invitationWriteLock } from '../src/invitations/invitations.js';
import { importUnits } from '../src/invitations/unit-import.js';
import { projectRoot } from '../src/local/paths.js';
import { SERVICE_KEY_PREFIX } from '../src/redis.js';
import { rebuildCommentSamples } from '../src/responses/comment-samples.js';
import { checkCounters, markCommented } from '../src/responses/counters.js';
import { resolveKeys } from '../src/secrets.js';
import { shareWriteTurns, turnsThrough } from '../src/write-turns.js';
import { connectForCli, flags } from './cli.js';

const [command, ...args] = process.argv.slice(2);
// A command may take one plain argument (a file) before its flags.
const [arg, rest] = args[0] && !args[0].startsWith('--') ? [args[0], args.slice(1)] : [undefined, args];
const f = flags(rest);
// These write what the service writes, and take its locks: counters:check its turns (a recount between two counter
// batches), data:reencrypt each invitation's write lock.
const { db, config, redis } = await connectForCli({ redis: command === 'counters:check' || command === 'data:reencrypt' });
if (redis) shareWriteTurns(db.models, turnsThrough(redis, SERVICE_KEY_PREFIX));
let exit = 0;
try {
  const campaign = async (): Promise<Campaign> => {
    const doc = f.campaign ? await db.models.Campaign.findById(f.campaign).lean() : await db.models.Campaign.findOne({ active: true }).lean();
    if (!doc) throw new Error('no such campaign: run `npm run seed` first');
    return doc.data as Campaign;
  };
  switch (command) {
    case 'keys:create': {
      const role = f.role as Role;
      if (!['officer', 'pv01', 'admin'].includes(role)) throw new Error('--role must be officer, pv01 or admin');
      const subUnits = f['sub-units'] === 'true';
      let covers = '';
      if (role === 'officer') {
        if (!f.unit) throw new Error('an officer key needs --unit <unit code>');
        const c = await campaign();
        if (!unitOf(c, f.unit)) throw new Error(`--unit: unknown unit "${f.unit}" in the active campaign`);
        if (subUnits) covers = ` and the ${unitAndBelow(c, f.unit).size - 1} unit(s) under it`;
      } else if (subUnits) throw new Error('--sub-units is for officer keys (pv01 and admin keys see every unit)');
      const { id, key } = await createApiKey(db.models, role, f.unit, f.label, subUnits);
      await db.models.AuditLog.create({
        at: new Date(),
        actor: 'cli',
        role: 'admin',
        action: 'key.create',
        target: id,
        details: { role, unit: f.unit, subUnits },
      });
      console.log(`created ${role} key ${id}${f.unit ? ` for unit ${f.unit}${covers}` : ''}. It is shown once; store it now:\n${key}`);
      break;
    }
    case 'keys:revoke': {
      const r = await db.models.ApiKey.updateOne({ _id: f.id }, { $set: { revokedAt: new Date() } });
      if (!r.matchedCount) throw new Error(`no key with id ${f.id}`);
      await db.models.AuditLog.create({ at: new Date(), actor: 'cli', role: 'admin', action: 'key.revoke', target: f.id });
      console.log(`revoked key ${f.id}`);
      break;
    }
    case 'counters:check': {
      const c = await campaign();
      const r = await checkCounters(db.models, c.id, f.fix === 'true');
      console.log(`${c.id}: ${r.rows} counter rows expected, ${r.mismatches.length} mismatches${f.fix === 'true' && r.mismatches.length ? ' (fixed)' : ''}`);
      for (const m of r.mismatches.slice(0, 50)) console.log(`  ${m.id}: expected ${m.expected}, stored ${m.actual}`);
      // The invitation counts of Mẫu 01's table A, recounted from the invitations.
      const i = await checkInvitationCounts(db.models, c.id, c.timezone, f.fix === 'true');
      console.log(
        `${c.id}: ${i.rows} invitation count rows expected, ${i.mismatches.length} mismatches${f.fix === 'true' && i.mismatches.length ? ' (fixed)' : ''}`,
      );
      for (const m of i.mismatches.slice(0, 50))
        console.log(`  ${m.id}: expected created/opened/invalidated ${m.expected.join('/')}, stored ${m.actual.join('/')}`);
      // Ballots stored before the comments' `commented` mark existed; and the comment samples, rebuilt from the ballots.
      const flows = loadFlows(join(projectRoot, 'flows'));
      const unmarked = await markCommented(db.models, flows, c.id, f.fix === 'true');
      if (unmarked) console.log(`${c.id}: ${unmarked} ballots without the commented mark${f.fix === 'true' ? ' (set)' : ''}`);
      if (f.fix === 'true') console.log(`${c.id}: comment samples rebuilt from ${await rebuildCommentSamples(db.models, flows, c.id)} ballots with comments`);
      if ((r.mismatches.length || i.mismatches.length || unmarked) && f.fix !== 'true') exit = 1;
      break;
    }
    case 'units:import': {
      if (!arg) throw new Error('usage: units:import <file.csv> [--campaign id] [--dry-run]');
      const c = await campaign();
      const r = importUnits(c, readFileSync(arg, 'utf8'));
      const passed = allocateQuotas(r.campaign).reduce((n, q) => n + q.passedDown, 0);
      console.log(
        `${c.id}: ${r.added.length} unit(s) added, ${r.updated.length} updated; ${r.campaign.units.length} units, ${passed} ballots passed down to sub-units`,
      );
      if (f['dry-run'] === 'true') {
        console.log('dry run: nothing stored');
        break;
      }
      await db.models.Campaign.updateOne({ _id: c.id }, { $set: { data: r.campaign, updatedAt: new Date() } });
      await db.models.AuditLog.create({
        at: new Date(),
        actor: 'cli',
        role: 'admin',
        action: 'units.import',
        target: c.id,
        details: { added: r.added.length, updated: r.updated.length },
      });
      console.log('stored; running services pick it up within 30 s');
      break;
    }
    case 'data:reencrypt': {
      const { encryptionKey } = resolveKeys(config, (m) => console.warn(m));
      if (!config.previousDataEncryptionKey) console.warn('DATA_ENCRYPTION_KEY_PREVIOUS is not set: only data already sealed with the current key can be read');
      acceptPreviousKeys(config.previousDataEncryptionKey ? [config.previousDataEncryptionKey] : []);
      const lock = invitationWriteLock(redis!, SERVICE_KEY_PREFIX);
      const counts = await reencryptAll(db.models, db.conn, encryptionKey, (ref, write) => lock.hold(ref, write));
      await db.models.AuditLog.create({ at: new Date(), actor: 'cli', role: 'admin', action: 'data.reencrypt', target: 'all', details: counts });
      console.log(
        `re-encrypted with the current key: ${counts.phones} phones, ${counts.addressees} addressees, ${counts.contacts} contacts, ${counts.zaloTokens} Zalo token pairs; DATA_ENCRYPTION_KEY_PREVIOUS can now be removed`,
      );
      break;
    }
    case 'zalo:reset-tokens': {
      // After Zalo refused the refresh token: forget the stored pair, so the next start uses ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN.
      const r = await db.conn.collection('zalo_tokens').deleteMany({});
      await db.models.AuditLog.create({ at: new Date(), actor: 'cli', role: 'admin', action: 'zalo.reset-tokens', target: String(r.deletedCount) });
      console.log(`removed ${r.deletedCount} stored Zalo token pair(s); restart the service with a new ZALO_ACCESS_TOKEN and ZALO_REFRESH_TOKEN`);
      break;
    }
    default:
      throw new Error(
        'commands: keys:create --role <role> [--unit <code>] [--sub-units], keys:revoke --id <id>, units:import <file.csv> [--dry-run], counters:check [--fix], data:reencrypt, zalo:reset-tokens',
      );
  }
} catch (err) {
  console.error((err as Error).message);
  exit = 2;
} finally {
  await db.close();
  redis?.disconnect();
}
process.exit(exit);
