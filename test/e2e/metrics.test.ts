// GET /metrics end to end: a real gateway, real traffic, the exposition parsed.
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricsText, StreamClient, startGateway, type ChildGateway, type HistogramSeries } from '../helpers/index.js';

/** A scrape and the content type it came with. */
interface Scrape {
  contentType: string | null;
  text: MetricsText;
}

/** Buckets in increasing `le`, counts cumulative, ending at +Inf with the series' count. */
function expectWellFormed(family: string, h: Map<string, HistogramSeries>): void {
  expect(h.size, `${family} has no series`).toBeGreaterThan(0);
  for (const [key, s] of h) {
    const les = s.buckets.map(([le]) => le);
    expect(les, `${family}${key} bounds`).toEqual([...les].sort((a, b) => a - b));
    expect(les.at(-1), `${family}${key} last bucket`).toBe(Infinity);
    for (let i = 1; i < s.buckets.length; i++) expect(s.buckets[i]![1]).toBeGreaterThanOrEqual(s.buckets[i - 1]![1]);
    expect(s.buckets.at(-1)![1], `${family}${key} +Inf bucket vs count`).toBe(s.count);
    expect(s.sum, `${family}${key} sum`).toBeGreaterThanOrEqual(0);
  }
}

const CHAINLANES_TYPES: Record<string, string> = {
  chainlanes_frames_accepted_total: 'counter',
  chainlanes_entries_accepted_total: 'counter',
  chainlanes_bytes_accepted_total: 'counter',
  chainlanes_frames_rejected_total: 'counter',
  chainlanes_frame_ids_remembered: 'gauge',
  chainlanes_frame_ids_bytes: 'gauge',
  chainlanes_frame_id_repeats_total: 'counter',
  chainlanes_frame_ids_evicted_total: 'counter',
  chainlanes_frame_ids_stripped_total: 'counter',
  chainlanes_frame_id_repeats_from_store_total: 'counter',
  chainlanes_entries_committed_total: 'counter',
  chainlanes_blocks_committed_total: 'counter',
  chainlanes_seal_failures_total: 'counter',
  chainlanes_lane_worker_retries_total: 'counter',
  chainlanes_fair_share_refused_total: 'counter',
  chainlanes_directory_height: 'gauge',
  chainlanes_unsealed_bytes: 'gauge',
  chainlanes_chains: 'gauge',
  chainlanes_connections: 'gauge',
  chainlanes_http_requests_in_flight: 'gauge',
  chainlanes_max_connections: 'gauge',
  chainlanes_requests_refused_total: 'counter',
  chainlanes_descriptors_low: 'gauge',
  chainlanes_descriptors_low_total: 'counter',
  chainlanes_front_door_overloaded_turns_total: 'counter',
  chainlanes_addresses_barred_total: 'counter',
  chainlanes_frames_cut_off_by_share_total: 'counter',
  chainlanes_frames_shed_by_share_total: 'counter',
  chainlanes_front_door_longest_turn_seconds: 'gauge',
  chainlanes_front_door_busy_seconds_total: 'counter',
  chainlanes_front_door_cpu_seconds_total: 'counter',
  chainlanes_front_door_turn_seconds: 'histogram',
  chainlanes_listening: 'gauge',
  chainlanes_listen_stops_total: 'counter',
  chainlanes_lane_ring_used_bytes: 'gauge',
  chainlanes_lane_backlog_frames: 'gauge',
  chainlanes_hash_latency_seconds: 'histogram',
  chainlanes_event_loop_delay_seconds: 'histogram',
};

describe('GET /metrics', () => {
  let gw: ChildGateway;
  let client: StreamClient;
  const FRAMES = 12;
  const PER_FRAME = 3;

  async function scrape(): Promise<Scrape> {
    const res = await gw.http('/metrics');
    expect(res.status).toBe(200);
    return { contentType: res.headers.get('content-type'), text: MetricsText.parse(await res.text()) };
  }

  /** Sends `frames` frames on the open client and waits until all of them are committed. */
  async function sendAndCommit(frames: number): Promise<void> {
    const before = client.replies.length;
    for (let f = 0; f < frames; f++) client.send(Array.from({ length: PER_FRAME }, (_, k) => `metered-${before + f}-${k}`));
    await client.waitReplies(before + frames);
    const entries = (before + frames) * PER_FRAME;
    await client.waitCommitted((notices) => notices.reduce((n, c) => n + (c.count as number), 0) >= entries);
  }

  beforeAll(async () => {
    gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    client = await StreamClient.open(gw.port, 'metered');
    await sendAndCommit(FRAMES);
  });

  it('serves the Prometheus text format, every family typed once, chainlanes metrics with their types', async () => {
    const { contentType, text: m } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4(; charset=utf-8)?$/);
    const names = m.types.map(([name]) => name);
    expect(names.length, 'a family typed twice').toBe(new Set(names).size);
    for (const s of m.samples) {
      // Every sample belongs to a family declared before it.
      const family = names.find((n) => s.name === n || (/_(bucket|sum|count)$/.test(s.name) && s.name.replace(/_(bucket|sum|count)$/, '') === n));
      expect(family, `${s.name} has no # TYPE`).toBeDefined();
    }
    expect(Object.fromEntries(m.types.filter(([name]) => name.startsWith('chainlanes_')))).toEqual(CHAINLANES_TYPES);
    expect(m.samples.some((s) => s.name.startsWith('chainlanes_event_loop_delay_seconds') && 'quantile' in s.labels)).toBe(false);
  });

  it('counts what was sent: accepted and committed counters, chains and connections gauges', async () => {
    const m = (await scrape()).text;
    const entries = FRAMES * PER_FRAME;
    expect(m.value('chainlanes_frames_accepted_total')).toBe(FRAMES);
    expect(m.value('chainlanes_entries_accepted_total')).toBe(entries);
    expect(m.value('chainlanes_entries_committed_total')).toBe(entries);
    expect(m.value('chainlanes_blocks_committed_total')).toBeGreaterThanOrEqual(1);
    expect(m.value('chainlanes_frames_rejected_total', { code: 'bad_frame' })).toBe(0);
    expect(m.value('chainlanes_chains')).toBe(1);
    expect(m.value('chainlanes_connections')).toBe(1);
  });

  it('keeps hash latency per lane as a histogram that holds every frame', async () => {
    const m = (await scrape()).text;
    const h = m.histogram('chainlanes_hash_latency_seconds');
    expectWellFormed('chainlanes_hash_latency_seconds', h);
    const lanes = [...h.keys()].map((key) => Object.fromEntries(JSON.parse(key) as [string, string][]));
    expect(lanes.map((l) => l.lane).sort()).toEqual(['heavy', 'light', 'medium']);
    const count = [...h.values()].reduce((n, s) => n + s.count, 0);
    expect(count).toBeGreaterThanOrEqual(FRAMES);
    // The bounds are the ones the gateway always had, from 50 µs to 1 s.
    const bounds = [...h.values()][0]!.buckets.map(([le]) => le);
    expect(bounds).toEqual([0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, Infinity]);
  });

  it('keeps the event-loop delay as a histogram from 1 ms to seconds', async () => {
    const m = (await scrape()).text;
    expect(m.typeOf('chainlanes_event_loop_delay_seconds')).toBe('histogram');
    const h = m.histogram('chainlanes_event_loop_delay_seconds');
    expect(h.size).toBe(1);
    expectWellFormed('chainlanes_event_loop_delay_seconds', h);
    const only = [...h.values()][0]!;
    expect(only.count, 'the event loop is probed while the gateway runs').toBeGreaterThan(0);
    expect(only.buckets[0]![0]).toBe(0.001);
    expect(only.buckets.at(-2)![0]).toBeGreaterThanOrEqual(2);
  });

  it('includes prom-client default process and Node metrics', async () => {
    const m = (await scrape()).text;
    expect(m.typeOf('process_cpu_seconds_total')).toBe('counter');
    expect(m.value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.typeOf('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.typeOf('process_resident_memory_bytes')).toBe('gauge');
  });

  it('only ever grows histogram buckets and counters between scrapes', async () => {
    const total = (m: MetricsText, family: string): number => [...m.histogram(family).values()].reduce((n, s) => n + s.count, 0);
    const first = (await scrape()).text;
    await sendAndCommit(FRAMES);
    // Scraped again until the event-loop histogram has taken a new probe; the last scrape is `second`.
    let second = first;
    await expect
      .poll(async () => total((second = (await scrape()).text), 'chainlanes_event_loop_delay_seconds'), { timeout: 10_000, interval: 50 })
      .toBeGreaterThan(total(first, 'chainlanes_event_loop_delay_seconds'));
    for (const family of ['chainlanes_hash_latency_seconds', 'chainlanes_event_loop_delay_seconds']) {
      const before = first.histogram(family);
      const after = second.histogram(family);
      expectWellFormed(family, after);
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [key, b] of before) {
        const a = after.get(key)!;
        expect(a.buckets.map(([le]) => le)).toEqual(b.buckets.map(([le]) => le));
        a.buckets.forEach(([le, n], i) => expect(n, `${family}${key} le=${le}`).toBeGreaterThanOrEqual(b.buckets[i]![1]));
        expect(a.sum).toBeGreaterThanOrEqual(b.sum);
      }
    }
    expect(total(second, 'chainlanes_hash_latency_seconds') - total(first, 'chainlanes_hash_latency_seconds')).toBeGreaterThanOrEqual(FRAMES);
    expect(total(second, 'chainlanes_event_loop_delay_seconds')).toBeGreaterThan(total(first, 'chainlanes_event_loop_delay_seconds'));
    expect(second.value('chainlanes_entries_accepted_total')).toBe(2 * FRAMES * PER_FRAME);
    expect(second.value('chainlanes_entries_committed_total')).toBe(2 * FRAMES * PER_FRAME);
  });
});
