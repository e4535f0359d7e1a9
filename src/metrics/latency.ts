// Hash latency per lane: observed once per frame on the front door's hot path,
// so it is kept in a few counters of our own and handed to prom-client only at
// scrape time.
//
// Why not prom-client's Histogram: measured with bench/micro/metrics.ts (same
// process, same bounds, 1024 observes per call), a child made once with
// labels(lane) costs 200–290 ns per observe() against 4–6 ns here, 45–65×: it
// re-validates the labels, rebuilds their hash string and looks the bucket up
// by property name on every call. At a few µs of front door work per frame
// that is 5–10 % per frame, against the 1 % budget; this one is ~0.2 %.
import type { Metric, Registry } from 'prom-client';

/** Upper bounds in seconds, from a fast inline hash to a frame stuck behind a flood. */
export const LATENCY_BOUNDS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** A Prometheus histogram of seconds: a handful of counters, no allocation per observation. */
export class LatencyHistogram {
  /** Per bucket, not cumulative; the last one is above every bound (+Inf). */
  readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * Registers one histogram metric over `histograms`, the one at index i
 * labelled `label`=`values[i]`, read when scraped.
 *
 * prom-client has no custom-collector API (siimon/prom-client#241), and its
 * Histogram takes counts only through observe(): one call per past
 * observation. So the registry gets an object with the part of the metric
 * contract it reads: name, help, type, get() at a scrape, and reset() for
 * registry.resetMetrics().
 */
export function registerLatencyHistograms(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  values: readonly string[],
  histograms: readonly LatencyHistogram[],
): void {
  const collect = (): Sample[] => histograms.flatMap((h, i) => samplesOf(name, { [label]: values[i]! }, LATENCY_BOUNDS, h));
  registerCollected(registry, name, help, collect, () => histograms.forEach((h) => h.reset()));
}

/** Counts per bucket (not cumulative, one more than the bounds: the last is +Inf) and their sum, kept elsewhere. */
export interface BucketCounts {
  readonly counts: ArrayLike<number>;
  readonly sum: number;
}

/** Registers one unlabelled histogram whose counts are kept elsewhere (`read` at each scrape); null: no series. */
export function registerReadHistogram(registry: Registry, name: string, help: string, bounds: readonly number[], read: () => BucketCounts | null): void {
  const collect = (): Sample[] => {
    const h = read();
    return h === null ? [] : samplesOf(name, {}, bounds, h);
  };
  registerCollected(registry, name, help, collect, () => undefined);
}

function registerCollected(registry: Registry, name: string, help: string, collect: () => Sample[], reset: () => void): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values: collect() }),
    reset,
  };
  // prom-client types registerMetric's argument as the union of its own classes.
  registry.registerMetric(metric as unknown as Metric);
}

function samplesOf(name: string, labels: Record<string, string>, bounds: readonly number[], h: BucketCounts): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  bounds.forEach((bound, i) => {
    cumulative += h.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
  });
  cumulative += h.counts[bounds.length]!;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
  return out;
}
