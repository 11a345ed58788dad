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
  /** The batch last handed to `track` (every opening of a batch shares its promise). */
  private tracked?: Promise<void>;

  /** `track`: given each batch once, to wait for at shutdown and to report its failure. */
  constructor(
    add: (openings: Opening[], jobId: string) => Promise<unknown>,
    private readonly track: (queued: Promise<void>) => void,
    onRetry?: (err: Error) => void,
  ) {
    this.batches = new MergedBatches<Opening[]>(
      () => [],
      async (openings) => {
        const jobId = `opened-${randomUUID()}`;
        await tryAgain(() => add(openings, jobId), QUEUE_RETRY_MS, onRetry);
      },
      GATHER_MS,
    );
  }

  /** Queues the opening with the others of its batch: resolves once they are queued (the batch's promise, also given to `track`). */
  add(o: Opening): Promise<void> {
    const queued = this.batches.add((batch) => batch.push(o));
    if (queued !== this.tracked) {
      this.tracked = queued;
      this.track(queued);
    }
    return queued;
  }
}
