// Database writes that merge: a process writes one batch at a time, and what is
// added while a batch is written goes into the next one (a burst touching the
// same rows makes one $inc of +n, not n writes). One at a time also because
// FerretDB runs an update as read-modify-write: two concurrent $inc on one row
// can lose one (MongoDB's are atomic).

export class MergedBatches<B> {
  /** The batch still open to merging (its write has not started). */
  private open?: { batch: B; done: Promise<void> };
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly create: () => B,
    private readonly write: (batch: B) => Promise<void>,
    /** How long a batch stays open to merging once the one before it is written (0: until then only). */
    private readonly gatherMs = 0,
  ) {}

  /** Merges into the open batch (or a new one); resolves once that batch is written, rejects if its write failed. */
  add(merge: (batch: B) => void): Promise<void> {
    if (!this.open) {
      const batch = this.create();
      const gathered = this.gatherMs ? this.tail.then(() => new Promise((r) => setTimeout(r, this.gatherMs))) : this.tail;
      const done = gathered.then(() => {
        if (this.open?.batch === batch) this.open = undefined;
        return this.write(batch);
      });
      this.open = { batch, done };
      this.tail = done.catch(() => {});
    }
    merge(this.open.batch);
    return this.open.done;
  }

  /** Runs `fn` between batches: nothing is written meanwhile, and what is added from now on is written after it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.open = undefined;
    const run = this.tail.then(fn);
    this.tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }
}
