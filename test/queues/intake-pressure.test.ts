import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IntakePressure } from '../../src/queues/intake-pressure.js';
import { fileRedis } from '../helpers/context.js';
import { heldWorkers } from '../helpers/held-workers.js';

const { prefix, redis } = fileRedis('pressure');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IntakePressure', () => {
  it('shares the intake rate between processes through Redis: the last full second, and the quarter in progress', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const web = new IntakePressure(redis, `${prefix}rate:`, { busyRate: 50, slotMs: 250, now: clock });
    const worker = new IntakePressure(redis, `${prefix}rate:`, { busyRate: 50, slotMs: 250, now: clock });
    const held = heldWorkers();
    worker.defer([held]);
    /** The web process takes in `n` updates and publishes them at its tick. */
    const takeIn = async (n: number) => {
      for (let i = 0; i < n; i++) web.note();
      await web.tick();
    };
    for (let quarter = 0; quarter < 4; quarter++) {
      await takeIn(10);
      now += 250;
    }
    await worker.tick();
    // 40 in the last second, as seen by the process that took none of them: not busy from 50.
    expect(worker.rate).toBe(40);
    expect(held.paused).toBe(false);
    // A burst: 15 in the first tenth of a quarter (60 a second), seen by the worker at its next tick, in the same quarter.
    await takeIn(15);
    now += 100;
    await worker.tick();
    expect(worker.rate).toBe(60);
    expect(held.paused).toBe(true);
    now += 1_250; // a quiet second
    await worker.tick();
    expect(worker.rate).toBe(0);
    expect(held.paused).toBe(false);
  });

  it('a burst this process takes in counts at once, before the next tick', () => {
    const p = new IntakePressure(redis, `${prefix}early:`, { busyRate: 40, slotMs: 250 });
    for (let i = 0; i < 9; i++) p.note();
    expect(p.busy).toBe(false);
    p.note(); // 10 in a quarter second: 40 a second
    expect(p.busy).toBe(true);
  });

  it('never counts as busy with a rate of 0', async () => {
    const p = new IntakePressure(redis, `${prefix}off:`, { busyRate: 0, slotMs: 250 });
    for (let i = 0; i < 1_000; i++) p.note();
    await p.tick();
    expect(p.busy).toBe(false);
  });

  describe('with a BullMQ worker on real Redis', () => {
    const done: string[] = [];
    let queue: Queue;
    let worker: Worker;
    let pressure: IntakePressure;
    let load: NodeJS.Timeout | undefined;
    const connection = () => {
      const u = new URL(inject('redisUrl'));
      return { host: u.hostname, port: Number(u.port) };
    };
    /** Webhook traffic at about 200 updates a second (busy from 50), until stopped. */
    const busyIntake = () => {
      load = setInterval(() => {
        for (let i = 0; i < 10; i++) pressure.note();
      }, 50);
    };
    const quiet = () => clearInterval(load);
    /** Intake turns busy, the worker steps aside, and 20 jobs are queued meanwhile. */
    const jobsDuringABurst = async (name: string) => {
      busyIntake();
      await sleep(300);
      expect(pressure.deferring).toBe(true);
      await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: `${name}-${i}`, data: {} })));
    };

    beforeAll(async () => {
      queue = new Queue('jobs', { connection: connection(), prefix: `${prefix}bull` });
      worker = new Worker('jobs', async (job) => void done.push(job.name), { connection: connection(), prefix: `${prefix}bull`, concurrency: 4 });
      pressure = new IntakePressure(redis, `${prefix}jobs:`, { busyRate: 50, slotMs: 100, maxDeferMs: 2_000 });
      pressure.defer([worker]);
      pressure.start((err) => {
        throw err;
      });
      await worker.waitUntilReady();
    });
    afterAll(async () => {
      quiet();
      await pressure.stop();
      await worker.close();
      await queue.close();
    });

    it('holds the database jobs back while intake is busy and runs them once it is quiet', async () => {
      await jobsDuringABurst('after-the-burst');
      await sleep(800);
      // A fetch BullMQ was already blocked in when the pause came may still take one job; the rest wait.
      expect(done.length).toBeLessThanOrEqual(1);
      quiet();
      await sleep(1_500);
      expect(pressure.deferring).toBe(false);
      expect(done).toHaveLength(20);
    });

    it('defers for at most maxDeferMs: under sustained load the jobs run anyway', async () => {
      await jobsDuringABurst('despite-the-load');
      await sleep(700);
      expect(done.length).toBeLessThanOrEqual(21);
      // Two seconds after the deferral began, the worker runs (for two seconds) although intake is still busy.
      await sleep(2_000);
      expect(pressure.busy).toBe(true);
      expect(pressure.deferring).toBe(false);
      expect(done).toHaveLength(40);
      quiet();
    });
  });
});
