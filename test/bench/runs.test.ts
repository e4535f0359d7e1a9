// --runs N: medians, ranges and flags over repeated runs (bench/runs.ts).
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/load.js';
import { formatRuns, spread, summarizeRuns, type RunRecord } from '../../bench/runs.js';

/** A gateway's CPU as the bench splits it: half the front door's, a quarter each the lanes' and the sealer's. */
function threadSplit(cpu: number): LoadResult['gateway']['cpuSecondsPerMillionByThread'] {
  return { 'front door': cpu / 2, lanes: cpu / 4, sealer: cpu / 4, scheduler: 0, readers: 0, anchor: 0, other: 0 };
}

function result(target: string, entriesPerSec: number, cpu: number | null, lightP99: number, saturated = false): LoadResult {
  const cls = (p99: number): LoadResult['classes']['light'] => ({
    chains: 1,
    connections: 1,
    entriesPerSec,
    framesPerSec: 1,
    framesSent: 1,
    committedPerSec: null,
    accepted: { p50: p99 / 2, p90: p99, p99, p999: p99, max: p99, count: 1 } as unknown as LoadResult['classes']['light']['accepted'],
    committed: null,
    entriesAcceptedTotal: 1,
    entriesCommittedTotal: 1,
  });
  return {
    target,
    url: 'ws://x',
    durationS: 1,
    entriesPerSec,
    framesPerSec: 1,
    committedPerSec: null,
    classes: { heavy: cls(lightP99 * 2), light: cls(lightP99) },
    accepted: null,
    errors: {},
    connectionsLost: 0,
    gateway: { cpuSeconds: null, cpuSecondsPerMillion: cpu, coresBusy: null, cpuSecondsPerMillionByThread: cpu === null ? null : threadSplit(cpu) },
    clients: [],
    clientSaturated: saturated,
    connectFailures: [],
    series: [],
    notes: [],
    chains: [],
  };
}

describe('--runs', () => {
  it('takes the median and range of what exists, and nothing of an empty list', () => {
    expect(spread([3, null, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1])).toEqual({ median: 2.5, min: 1, max: 4, n: 2 });
    expect(spread([null, undefined])).toBeNull();
  });

  it('summarizes each target over its runs and counts the flagged ones', () => {
    const records: RunRecord[] = [
      { run: 0, loadAverage: 0.5, cores: 2, result: result('a', 100, 2, 1000) },
      { run: 0, loadAverage: 0.6, cores: 2, result: result('b', 50, null, 4000, true) },
      { run: 1, loadAverage: 3.1, cores: 2, result: result('b', 70, null, 2000) },
      { run: 1, loadAverage: 2.0, cores: 2, result: result('a', 300, 1, 3000) },
      { run: 2, loadAverage: 0.1, cores: 2, result: result('a', 200, 4, 2000) },
    ];
    const [a, b] = summarizeRuns(records);
    expect(a).toMatchObject({
      target: 'a',
      runs: 3,
      entriesPerSec: { median: 200, min: 100, max: 300 },
      cpuSecondsPerMillion: { median: 2 },
      machineBusy: 1,
      clientSaturated: 0,
    });
    expect(a!.cpuByThread).toMatchObject({ 'front door': { median: 1, min: 0.5, max: 2 }, lanes: { median: 0.5 } });
    expect(b).toMatchObject({
      target: 'b',
      runs: 2,
      entriesPerSec: { median: 60 },
      cpuSecondsPerMillion: null,
      cpuByThread: null,
      machineBusy: 1,
      clientSaturated: 1,
    });
    const text = formatRuns(records, [a!, b!]);
    expect(text).toContain('CLIENT SATURATED');
    expect(text).toContain('MACHINE BUSY');
    expect(text).toMatch(/a ÷ b\s+3\.33×/);
    // The per-thread table has a row for the target that names its threads, none for the other.
    expect(text).toMatch(/^\s*a\s+1\.00 \(0\.50–2\.00\)\s+0\.50/m);
    expect(text).not.toMatch(/^\s*b\s+n\/a\s+n\/a/m);
  });
});
