import type { Logger } from './log.js';

/** Work that runs after a webhook has answered; a graceful shutdown waits for it. */
export class BackgroundTasks {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly log: Logger) {}

  run(what: string, task: Promise<unknown>): void {
    const p = task.catch((err: Error) => this.log.warn({ err: err.message }, `${what} failed`));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}
