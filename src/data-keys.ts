// Rotation of DATA_ENCRYPTION_KEY: with the new key in DATA_ENCRYPTION_KEY and
// the old one in DATA_ENCRYPTION_KEY_PREVIOUS, the service reads both and
// writes with the new one; `npm run admin -- data:reencrypt` moves everything
// sealed with the old key to the new one, after which the old key can go.
import type { Connection } from 'mongoose';
import { decrypt, encrypt, sealedWith } from './crypto.js';
import type { Models } from './db.js';
import { WITH_CONTACTS } from './invitations/models.js';

export interface ReencryptCounts {
  phones: number;
  addressees: number;
  contacts: number;
  zaloTokens: number;
}

/** `writeInvitation`: runs an invitation's write under the lock the service's writers of that invitation hold. */
export async function reencryptAll(
  models: Models,
  conn: Connection,
  key: Buffer,
  writeInvitation: <T>(ref: string, write: () => Promise<T>) => Promise<T> = (_ref, write) => write(),
): Promise<ReencryptCounts> {
  const counts: ReencryptCounts = { phones: 0, addressees: 0, contacts: 0, zaloTokens: 0 };
  const move = (sealed: string) => (sealedWith(key, sealed) ? undefined : encrypt(key, decrypt(key, sealed)));
  for await (const inv of models.Invitation.find(WITH_CONTACTS, { phoneEnc: 1, addresseeEnc: 1 }).lean().cursor()) {
    const phone = inv.phoneEnc ? move(inv.phoneEnc) : undefined;
    const addressee = inv.addresseeEnc ? move(inv.addresseeEnc) : undefined;
    if (!phone && !addressee) continue;
    await writeInvitation(String(inv._id), () =>
      models.Invitation.updateOne({ _id: inv._id }, { $set: { ...(phone ? { phoneEnc: phone } : {}), ...(addressee ? { addresseeEnc: addressee } : {}) } }),
    );
    if (phone) counts.phones++;
    if (addressee) counts.addressees++;
  }
  for await (const r of models.Response.find({ contactEnc: { $exists: true } }, { contactEnc: 1 })
    .lean()
    .cursor()) {
    const contact = move(r.contactEnc!);
    if (!contact) continue;
    // Only if it is still there as read: a contact purged meanwhile (its retention over) must not come back.
    const written = await models.Response.updateOne({ _id: r._id, contactEnc: r.contactEnc }, { $set: { contactEnc: contact } });
    if (written.modifiedCount) counts.contacts++;
  }
  const tokens = conn.collection<{ _id: unknown; sealed?: string }>('zalo_tokens');
  for (const doc of await tokens.find({ sealed: { $exists: true } }).toArray()) {
    const sealed = move(doc.sealed!);
    if (!sealed) continue;
    // Only if the pair did not rotate meanwhile.
    const written = await tokens.updateOne({ _id: doc._id, sealed: doc.sealed } as never, { $set: { sealed } });
    if (written.modifiedCount) counts.zaloTokens++;
  }
  return counts;
}
