// The one Prometheus-text reader (bench/metrics-text.ts), on what prom-client
// really writes and on lines it must refuse.
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsText } from '../helpers/index.js';

async function exposition(): Promise<string> {
  const registry = new Registry();
  const refused = new Counter({ name: 'demo_refused_total', help: 'refused', labelNames: ['cause'], registers: [registry] });
  refused.inc({ cause: 'host' }, 3);
  refused.inc({ cause: 'a "quoted" \\ name\nwith a newline' }, 1);
  new Gauge({ name: 'demo_chains', help: 'chains', registers: [registry] }).set(7);
  const latency = new Histogram({ name: 'demo_latency_seconds', help: 'latency', labelNames: ['lane'], buckets: [0.001, 0.01], registers: [registry] });
  latency.observe({ lane: 'light' }, 0.0005);
  latency.observe({ lane: 'light' }, 0.005);
  latency.observe({ lane: 'light' }, 2);
  latency.observe({ lane: 'heavy' }, 0.002);
  return registry.metrics();
}

describe('MetricsText', () => {
  it('reads families, labelled samples and escaped label values as prom-client writes them', async () => {
    const m = MetricsText.parse(await exposition());
    expect(m.types).toEqual([
      ['demo_refused_total', 'counter'],
      ['demo_chains', 'gauge'],
      ['demo_latency_seconds', 'histogram'],
    ]);
    expect(m.typeOf('demo_chains')).toBe('gauge');
    expect(m.value('demo_chains')).toBe(7);
    expect(m.value('demo_refused_total', { cause: 'host' })).toBe(3);
    expect(m.value('demo_refused_total', { cause: 'a "quoted" \\ name\nwith a newline' })).toBe(1);
    expect(m.sum('demo_refused_total')).toBe(4);
    expect(m.sum('demo_refused_total', { cause: 'nobody' })).toBe(0);
    expect(m.valueOrUndefined('demo_refused_total', { cause: 'nobody' })).toBeUndefined();
    // Several samples match: value() refuses to pick one.
    expect(() => m.value('demo_refused_total')).toThrow(/2 samples of demo_refused_total, not 1/);
  });

  it('gathers a histogram by series: cumulative buckets up to +Inf, sum and count', async () => {
    const h = MetricsText.parse(await exposition()).histogram('demo_latency_seconds');
    const light = h.get(JSON.stringify([['lane', 'light']]))!;
    expect(light.labels).toEqual({ lane: 'light' });
    expect(light.buckets).toEqual([
      [0.001, 1],
      [0.01, 2],
      [Infinity, 3],
    ]);
    expect(light.count).toBe(3);
    expect(light.sum).toBeCloseTo(2.0055, 6);
    expect(h.get(JSON.stringify([['lane', 'heavy']]))!.buckets).toEqual([
      [0.001, 0],
      [0.01, 1],
      [Infinity, 1],
    ]);
  });

  it('takes special values and timestamps, and refuses lines that are not the format', () => {
    const m = MetricsText.parse('# HELP x y\n# TYPE x gauge\nx NaN\nw Nan\ny{a="b",} +Inf 1700000000000\nz -Inf\n\n');
    expect(m.value('x')).toBeNaN();
    expect(m.value('w')).toBeNaN();
    expect(m.value('y', { a: 'b' })).toBe(Infinity);
    expect(m.value('z')).toBe(-Infinity);
    expect(() => MetricsText.parse('x 12abc')).toThrow(/bad value in "x 12abc"/);
    expect(() => MetricsText.parse('x{a=b} 1')).toThrow(/bad labels/);
    expect(() => MetricsText.parse('x{a="b"')).toThrow(/not a Prometheus text line/);
    expect(() => MetricsText.parse('9x 1')).toThrow(/not a Prometheus text line/);
    expect(() => MetricsText.parse('# TYPE x sometimes')).toThrow(/not a Prometheus TYPE line/);
  });
});
