// Prometheus text exposition of the gateway's counters and gauges.

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: { labels?: Record<string, string>; value: number; suffix?: string }[];
}

/** Upper bounds in seconds, from a fast inline hash to a frame stuck behind a flood. */
const LATENCY_BOUNDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** A Prometheus histogram of seconds: a handful of counters, no allocation per observation. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  private sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
  }

  /** Cumulative buckets, sum and count, in exposition order. */
  samples(labels: Record<string, string>): MetricSample['values'] {
    const out: MetricSample['values'] = [];
    let cumulative = 0;
    LATENCY_BOUNDS.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      out.push({ suffix: '_bucket', labels: { ...labels, le: String(bound) }, value: cumulative });
    });
    cumulative += this.counts[LATENCY_BOUNDS.length]!;
    out.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: cumulative });
    out.push({ suffix: '_sum', labels, value: this.sum });
    out.push({ suffix: '_count', labels, value: cumulative });
    return out;
  }
}

export function renderMetrics(samples: readonly MetricSample[]): string {
  const lines: string[] = [];
  for (const s of samples) {
    lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    for (const v of s.values) lines.push(`${s.name}${v.suffix ?? ''}${renderLabels(v.labels)} ${v.value}`);
  }
  return lines.join('\n') + '\n';
}

function renderLabels(labels: Record<string, string> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return `{${parts.join(',')}}`;
}
