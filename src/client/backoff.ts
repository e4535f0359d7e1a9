export interface ReconnectOptions {
  /** First delay after a drop, before jitter. */
  minDelayMs: number;
  /** Ceiling of the growing delay. */
  maxDelayMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 = first): doubling from
 * minDelayMs up to maxDelayMs, then "equal jitter" — a random point in the upper
 * half — so clients dropped together by one gateway restart do not all come
 * back in the same millisecond, yet none waits less than half its step.
 */
export function backoffDelay(attempt: number, options: ReconnectOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(attempt, 30));
  return step / 2 + random() * (step / 2);
}
