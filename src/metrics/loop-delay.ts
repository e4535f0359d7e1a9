// How late the front door's event loop runs: a frame that arrives while the
// loop is busy waits that long to be read.
//
// Sampled by a timer rather than by draining perf_hooks.monitorEventLoopDelay()
// at each scrape: a timer due every LOOP_DELAY_SAMPLE_MS falls due at moments that have
// nothing to do with the loop's work, as a frame's arrival does, so how late it
// runs is the wait such a frame would see, and each probe is one exact
// observation. The monitor's histogram holds whole timer intervals (its
// resolution included) in HDR form; turning that into Prometheus buckets means
// subtracting the resolution and interpolating percentiles, and its 1 ms
// timer woke the loop 1000 times a second where this wakes it 10 times.
//
// Every probe is a wake-up of the front door, and on this VM a wake-up of an
// idle thread costs ~0.2 ms of CPU (bench/history/2026-12-03.md, "A quiet gateway"): a
// probe every 100 ms still observes every stall longer than that, and a
// shorter one in proportion to its length, which is what a frame would meet.
import { performance } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';

export const LOOP_DELAY_SAMPLE_MS = 100;

/** Bucket bounds in seconds: from timer granularity (1 ms) to a loop stalled for seconds. */
export const LOOP_DELAY_BOUNDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LoopDelaySampler {
  private readonly histogram: Histogram;
  private timer: NodeJS.Timeout | null = null;

  constructor(histogram: Histogram) {
    this.histogram = histogram;
  }

  start(): void {
    if (this.timer !== null) return;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      // Node times timers in whole milliseconds, so a punctual tick can measure a little early.
      this.histogram.observe(Math.max(0, now - last - LOOP_DELAY_SAMPLE_MS) / 1000);
      last = now;
    }, LOOP_DELAY_SAMPLE_MS);
    // A probe must not keep the process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
