// The openings of surveys go to the follow-ups queue in batches, after the
// webhook has answered. A BullMQ add costs about 0.2 ms of CPU (its options,
// msgpack, a Lua script): one per /start was a sixth of the service's CPU in an
// opening burst (everyone at once, when the first question is most awaited),
// and the webhook waited for it. A batch gathers the openings of 100 ms (its job
// waits a second anyway, see OPENED_DELAY_MS) and is added once the one before
// it is, so a burst adds a few jobs. A batch that cannot be added (Redis out of
// reach) is tried again under the same job id, so an add that did land is not
// repeated. Before, an add that failed lost its opening: the platform's
// redelivery of the webhook is a duplicate, and opens nothing.
import { randomUUID } from 'node:crypto';
import { MergedBatches } from '../merged-batches.js';
import { tryAgain } from '../try-again.js';
import type { Opening } from './jobs.js';

/** How long a batch keeps trying to be queued (a Redis failover takes a few seconds). */
const QUEUE_RETRY_MS = 10_000;
/** How long a batch gathers openings before it is queued: in a burst, the jobs of 100 ms in one. */
const GATHER_MS = 100;

export class OpenedBatches {
  private readonly batches: MergedBatches<Opening[]>;

  constructor(add: (openings: Opening[], jobId: string) => Promise<unknown>, onRetry?: (err: Error) => void) {
    this.batches = new MergedBatches<Opening[]>(
      () => [],
      async (openings) => {
        const jobId = `opened-${randomUUID()}`;
        await tryAgain(() => add(openings, jobId), QUEUE_RETRY_MS, onRetry);
      },
      GATHER_MS,
    );
  }

  /** Resolves once the opening is queued, with the others of its batch; rejects when that could not be done in time. */
  add(o: Opening): Promise<void> {
    return this.batches.add((batch) => batch.push(o));
  }
}
