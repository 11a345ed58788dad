// Only a dependency that cannot be reached is a 503: a deterministic rejection
// by the database is a 500 (our bug), a domain error maps by its kind.
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { describe, expect, inject, it } from 'vitest';
import { DomainError } from '../../src/errors.js';
import { toHttpError } from '../../src/http/errors.js';
import { KeyedLock } from '../../src/keyed-lock.js';
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

  it('a record whose write lock stays held is 503 busy (retry), not 500', async () => {
    const redis = new Redis(inject('redisUrl'));
    try {
      const lock = new KeyedLock(redis, `t_errors:${process.pid}:`, 5_000);
      await lock.acquire('inv-1', 'another-request');
      const err = await rejectionOf(lock.hold('inv-1', async () => 'written', 100));
      expect(toHttpError(err)).toMatchObject({ status: 503, code: 'busy' });
    } finally {
      redis.disconnect();
    }
  });

  it('a Redis Cluster in failover is 503 (retry), not 500', () => {
    // As ioredis reports them while a master is lost and before its replica takes over (seen in redis-failover.test.ts).
    for (const message of ['Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down', 'MOVED 7496 127.0.0.1:18327']) {
      expect(toHttpError(Object.assign(new Error(message), { name: 'ReplyError' }))).toMatchObject({ status: 503, code: 'unavailable' });
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
