// Only a dependency that cannot be reached is a 503: a deterministic rejection
// by the database is a 500 (our bug), a domain error maps by its kind.
import mongoose from 'mongoose';
import { describe, expect, inject, it } from 'vitest';
import { DomainError } from '../../src/errors.js';
import { toHttpError } from '../../src/http/errors.js';
import { freePort } from '../helpers/ports.js';

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('errors at the HTTP edge', () => {
  it('a MongoDB server rejecting a bad document is 500, not 503', async () => {
    const client = await new mongoose.mongo.MongoClient(inject('mongoUrl')).connect();
    try {
      const err = await rejectionOf(
        client
          .db('t_errors')
          .collection('x')
          .insertOne({ $bad: 1 } as never),
      );
      expect((err as Error).name).toMatch(/^Mongo/);
      expect(toHttpError(err).status).toBe(500);
    } finally {
      await client.close();
    }
  });

  it('an unreachable MongoDB server is 503', async () => {
    const client = new mongoose.mongo.MongoClient(`mongodb://127.0.0.1:${await freePort()}`, { serverSelectionTimeoutMS: 300 });
    const err = await rejectionOf(client.connect());
    expect(toHttpError(err)).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it.each([
    ['invalid', 400],
    ['forbidden', 403],
    ['not_found', 404],
    ['conflict', 409],
    ['unavailable', 503],
  ] as const)('a domain error of kind %s is %i', (kind, status) => {
    expect(toHttpError(new DomainError(kind, 'x', 'message'))).toMatchObject({ status, code: 'x', message: 'message' });
  });
});
