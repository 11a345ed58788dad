// Intake first. While respondents pour in, the jobs that write to the database
// (recording openings and ballots, follow-ups) step aside, so the webhook path
// and its replies get the CPU and the database's attention; the jobs wait in
// Redis, nothing is lost, and they catch up as soon as the burst is over. A
// deferral lasts at most `maxDeferMs`; the workers then run as long again
// whatever the load, so under sustained load records lag by at most that much
// more, and are never starved.
//
// The rate is shared through Redis: a process that takes webhooks adds what it
// took in to a counter per quarter second, and a process with jobs to hold
// back reads the current quarter and the last full second of them. Both happen
// every tick (100 ms), so a ROLE=worker process steps aside within about two
// ticks of its web processes' burst, before it has sent the database much.
import type { RedisClient } from '../redis.js';

/** What steps aside: a BullMQ Worker (pause without waiting for the jobs in hand). */
export interface Deferrable {
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): void | Promise<void>;
}

export interface IntakePressureOptions {
  /** Updates per second (all processes) from which intake counts as busy; 0: never. */
  busyRate: number;
  maxDeferMs?: number;
  /** The span each shared counter covers. */
  slotMs?: number;
  /** How often the rate is published and read. */
  tickMs?: number;
  now?: () => number;
}

/** The rate is the sum of this many full slots (one second). */
const SLOTS_READ = 4;

export class IntakePressure {
  readonly busyRate: number;
  private readonly maxDeferMs: number;
  private readonly slotMs: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  /** Updates taken in since the last tick, not yet published. */
  private taken = 0;
  private rateNow = 0;
  private deferred: Deferrable[] = [];
  private deferredSince?: number;
  /** After a deferral that reached the cap, the workers run until then whatever the load. */
  private runUntil = 0;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    o: IntakePressureOptions,
  ) {
    this.busyRate = o.busyRate;
    this.maxDeferMs = o.maxDeferMs ?? 30_000;
    this.slotMs = o.slotMs ?? 250;
    this.tickMs = o.tickMs ?? 100;
    this.now = o.now ?? Date.now;
  }

  /** One update taken in by this process's webhook. */
  note(): void {
    this.taken++;
    // A burst is seen at once, not a tick later (only where there is something to hold back, and it may be held now:
    // this runs on every webhook).
    if (this.deferredSince === undefined && this.deferred.length && this.busy && this.now() >= this.runUntil) this.steer().catch(() => {});
  }

  /**
   * Updates per second: all processes together as of the last tick (read only where there are workers to steer), or
   * what this process alone took in since, if more.
   */
  get rate(): number {
    return Math.max(this.rateNow, (this.taken * 1000) / this.slotMs);
  }

  get busy(): boolean {
    return this.busyRate > 0 && this.rate >= this.busyRate;
  }

  /** Whether the deferrable workers are held back now. */
  get deferring(): boolean {
    return this.deferredSince !== undefined;
  }

  /** These workers step aside while intake is busy. */
  defer(workers: Deferrable[]): void {
    this.deferred.push(...workers);
  }

  /** Publishes and reads the rate every tick, until stop(); a failed tick counts as not busy. */
  start(onError: (err: Error) => void): void {
    if (this.timer || this.busyRate <= 0) return;
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = this.tick()
        .catch(onError)
        .finally(() => {
          this.ticking = undefined;
        });
    }, this.tickMs);
    this.timer.unref();
  }

  /** Stops ticking; held-back workers stay paused (they are being closed). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** One step: publish what was taken in, read the rate (where there are workers to steer), hold back or release them. */
  async tick(): Promise<void> {
    const current = Math.floor(this.now() / this.slotMs);
    const taken = this.taken;
    this.taken = 0;
    try {
      const key = this.key(current);
      // In order on one connection (one node: one hash tag), so this process's own count is in what it reads.
      const [, , counts] = await Promise.all([
        taken ? this.redis.incrby(key, taken) : undefined,
        taken ? this.redis.pexpire(key, this.slotMs * (SLOTS_READ + 2)) : undefined,
        this.deferred.length ? this.redis.mget(...Array.from({ length: SLOTS_READ + 1 }, (_, i) => this.key(current - i))) : undefined,
      ]);
      if (!counts) return;
      const [inProgress, ...full] = counts.map((c) => Number(c ?? 0)) as [number, ...number[]];
      // The last full second; or the last full quarter, or the quarter so far, when higher: a burst counts from its
      // first ticks, and ends a second after.
      this.rateNow = (Math.max(full.reduce((sum, c) => sum + c, 0) / SLOTS_READ, full[0]!, inProgress) * 1000) / this.slotMs;
    } catch (err) {
      this.rateNow = 0;
      throw err;
    } finally {
      await this.steer();
    }
  }

  private async steer(): Promise<void> {
    const now = this.now();
    if (this.deferredSince !== undefined) {
      const capped = now - this.deferredSince >= this.maxDeferMs;
      if (!this.busy || capped) {
        if (capped) this.runUntil = now + this.maxDeferMs;
        await this.release();
      }
    } else if (this.busy && now >= this.runUntil && this.deferred.length) {
      this.deferredSince = now;
      await Promise.all(this.deferred.map((w) => w.pause(true)));
    }
  }

  private async release(): Promise<void> {
    if (this.deferredSince === undefined) return;
    this.deferredSince = undefined;
    await Promise.all(this.deferred.map((w) => w.resume()));
  }

  // One hash tag for all slots: read together in one MGET, on a cluster too.
  private key(slot: number): string {
    return `${this.prefix}{intake}:${slot}`;
  }
}
