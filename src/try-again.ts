/**
 * Runs `attempt` until it succeeds, pausing 250 ms, then doubling up to a second, between tries, for at most
 * `withinMs` in all; then throws its last error. For work that must not be lost to a moment without Redis (a
 * failover, a blip), where the caller has nobody left to fail to: each try must be safe to repeat.
 */
export async function tryAgain<T>(attempt: () => Promise<T>, withinMs: number, onRetry?: (err: Error) => void): Promise<T> {
  const started = Date.now();
  for (let pause = 250; ; pause = Math.min(2 * pause, 1_000)) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() - started + pause > withinMs) throw err;
      onRetry?.(err as Error);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
