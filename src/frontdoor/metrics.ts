// Prometheus text exposition of the gateway's counters and gauges.

export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: { labels?: Record<string, string>; value: number }[];
}

export function renderMetrics(samples: readonly MetricSample[]): string {
  const lines: string[] = [];
  for (const s of samples) {
    lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
    for (const v of s.values) lines.push(`${s.name}${renderLabels(v.labels)} ${v.value}`);
  }
  return lines.join('\n') + '\n';
}

function renderLabels(labels: Record<string, string> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return `{${parts.join(',')}}`;
}
