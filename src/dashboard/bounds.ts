// The dashboard's fixed bounds, in one place: what the live feed keeps, sends
// and reads, and how much history it holds for the charts and the chain view.

export const DASHBOARD = {
  /** One sample (and at most one message per socket) per tick: 4 per second. */
  tickMs: 250,
  /** Samples kept for the charts: five minutes at 4 per second; a new page gets them all. */
  historySamples: 1200,
  /** The balancer's decisions sent per tick; more wait for the next ticks (the ring holds balancer.eventsKept). */
  maxEventsPerTick: 100,
  /** Chains listed per message, busiest first; the total is always given. */
  maxChains: 500,
  /**
   * A socket holding more unsent bytes than this in uWS is skipped for the tick:
   * 0, so one that has not drained its last message gets no new one (the kernel's
   * socket buffers come first; uWS buffers only what they refuse).
   */
  maxBufferedBytes: 0,
  /** Open feeds at once; each costs one JSON message per tick (two while it watches a chain). */
  maxSockets: 64,
  /** Commit latencies kept per tick for its quantiles; past it the tick's sample is taken from the first ones. */
  maxCommitSamplesPerTick: 4096,
  /** The largest message a browser may send on the feed: `{"watch": name}` (a chain name is at most 256 bytes). */
  maxMessageBytes: 1024,
} as const;

/** The chain view's history: per chain, a point a second for five minutes. */
export const CHAIN_HISTORY = {
  /** One point per this many ms (every few ticks of the feed). */
  pointMs: 1000,
  /** Points kept per chain: five minutes. */
  points: 300,
  /**
   * Chains with a history at once: those a page watches (at most one per feed,
   * so at most DASHBOARD.maxSockets) and, in the rest, the busiest. 128 chains ×
   * 300 points × 11 columns × 8 bytes ≈ 3.4 MB at most.
   */
  maxChains: 128,
} as const;
