// The benchmark harness runs end to end and reports what it measured. No speed is asserted.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ThreadGroup } from '../../src/native/index.js';
import { ROOT } from '../helpers/index.js';

interface ClassResult {
  entriesPerSec: number;
  committedPerSec: number | null;
  accepted: { samples: number; p50: number; p99: number };
}

interface BenchReport {
  results: {
    target: string;
    entriesPerSec: number;
    committedPerSec: number | null;
    errors: Record<string, number>;
    classes: Record<string, ClassResult>;
    gateway: { cpuSecondsPerMillion: number; cpuSecondsPerMillionByThread: Record<ThreadGroup, number> | null };
  }[];
  ratios: unknown;
  disk: { sealBytes: number; bytesPerSec: number; targets: { target: string; ratio: number }[] } | null;
}

function runBench(args: string[]): BenchReport {
  const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...args, '--json'], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as BenchReport;
}

describe('npm run bench', () => {
  it('loads chainlanes and the ws peer with the same plan and reports throughput, latency and commits', () => {
    const report = runBench(['--compare', '--duration', '1', '--warmup', '0', '--connections', '8', '--chains', '6']);
    const byTarget = new Map(report.results.map((r) => [r.target, r]));
    // chainlanes runs with credits on (the bench provisions accounts, chains and mints), chainlanes-open without.
    expect([...byTarget.keys()].sort()).toEqual(['chainlanes', 'chainlanes-open', 'uws-echo', 'ws-gateway']);
    const chainlanes = byTarget.get('chainlanes')!;
    // Provisioned right: no frame refused for its key, its permission or its credits (busy may happen under load).
    for (const code of ['unauthenticated', 'forbidden', 'credits', 'unknown_chain']) expect(chainlanes.errors[code], code).toBeUndefined();
    expect(byTarget.get('chainlanes-open')!.entriesPerSec).toBeGreaterThan(0);
    expect(chainlanes.entriesPerSec).toBeGreaterThan(0);
    // chainlanes sends committed notices; the bench matched them to frames.
    expect(chainlanes.committedPerSec).toBeGreaterThan(0);
    expect(chainlanes.classes.heavy!.accepted.samples).toBeGreaterThan(0);
    expect(chainlanes.classes.heavy!.accepted.p99).toBeGreaterThanOrEqual(chainlanes.classes.heavy!.accepted.p50);
    expect(chainlanes.gateway.cpuSecondsPerMillion).toBeGreaterThan(0);
    // Its CPU split by its named threads adds up to the whole; the peers name none.
    const split = chainlanes.gateway.cpuSecondsPerMillionByThread!;
    expect(split['front door']).toBeGreaterThan(0);
    expect(split.lanes + split.sealer).toBeGreaterThan(0);
    expect(Object.values(split).reduce((a, b) => a + b, 0)).toBeCloseTo(chainlanes.gateway.cpuSecondsPerMillion, 6);
    expect(byTarget.get('ws-gateway')!.gateway.cpuSecondsPerMillionByThread).toBeNull();
    // The peers do not persist anything, and the report says so rather than inventing a number.
    expect(byTarget.get('ws-gateway')!.committedPerSec).toBeNull();
    expect(report.ratios).toBeTruthy();
    // The disk's own limit, measured at the seals' size, and each committing target as a fraction of it.
    expect(report.disk!.bytesPerSec).toBeGreaterThan(0);
    expect(report.disk!.targets.map((t) => t.target).sort()).toEqual(['chainlanes', 'chainlanes-open']);
    for (const t of report.disk!.targets) expect(t.ratio).toBeGreaterThan(0);
  }, 90_000);
});
