import type { Deferrable } from '../../src/queues/intake-pressure.js';

/** Stands in for the BullMQ workers an IntakePressure holds back: records whether they are paused now. */
export function heldWorkers(): Deferrable & { paused: boolean } {
  const held = {
    paused: false,
    pause: async () => {
      held.paused = true;
    },
    resume: () => {
      held.paused = false;
    },
  };
  return held;
}
