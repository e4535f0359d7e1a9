// --runs N: the same load N times against every target, in rotating order, and
// each row reported as its median and range over the runs. One run on this
// shared machine moves by ±20 % or more, so a single number says little; a
// run where a load client was saturated, or the machine already busy with
// other work when it started, is flagged, since its target may be faster than
// shown.
import { THREAD_GROUPS, type ThreadGroup } from '../src/native/index.js';
import type { LoadResult } from './load.js';
import { fmtInt, fmtRatio, fmtUs, table } from './report.js';

export interface RunRecord {
  run: number;
  /** The 1-minute load average when the run started, and the machine's cores. */
  loadAverage: number;
  cores: number;
  result: LoadResult;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Values the median was taken over (runs where the measure existed). */
  n: number;
}

export interface TargetRuns {
  target: string;
  runs: number;
  entriesPerSec: Spread | null;
  committedPerSec: Spread | null;
  cpuSecondsPerMillion: Spread | null;
  /** The gateway's CPU per million entries by thread group; null for a target that names no threads. */
  cpuByThread: Record<ThreadGroup, Spread | null> | null;
  heavyP99Us: Spread | null;
  lightP50Us: Spread | null;
  lightP99Us: Spread | null;
  /** Runs where a load client was saturated. */
  clientSaturated: number;
  /** Runs that started with the 1-minute load average at or above the core count. */
  machineBusy: number;
}

export function spread(values: readonly (number | null | undefined)[]): Spread | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

/** Whether the machine was busy with other work when a run started. */
export function machineBusy(r: Pick<RunRecord, 'loadAverage' | 'cores'>): boolean {
  return r.loadAverage >= r.cores;
}

export function summarizeRuns(records: readonly RunRecord[]): TargetRuns[] {
  const targets = [...new Set(records.map((r) => r.result.target))];
  return targets.map((target) => {
    const mine = records.filter((r) => r.result.target === target);
    const results = mine.map((r) => r.result);
    return {
      target,
      runs: mine.length,
      entriesPerSec: spread(results.map((r) => r.entriesPerSec)),
      committedPerSec: spread(results.map((r) => r.committedPerSec)),
      cpuSecondsPerMillion: spread(results.map((r) => r.gateway.cpuSecondsPerMillion)),
      cpuByThread: cpuByThread(results),
      heavyP99Us: spread(results.map((r) => r.classes.heavy.accepted?.p99)),
      lightP50Us: spread(results.map((r) => r.classes.light.accepted?.p50)),
      lightP99Us: spread(results.map((r) => r.classes.light.accepted?.p99)),
      clientSaturated: results.filter((r) => r.clientSaturated).length,
      machineBusy: mine.filter(machineBusy).length,
    };
  });
}

function cpuByThread(results: readonly LoadResult[]): Record<ThreadGroup, Spread | null> | null {
  const splits = results.map((r) => r.gateway.cpuSecondsPerMillionByThread).filter((s) => s !== null);
  if (splits.length === 0) return null;
  return Object.fromEntries(THREAD_GROUPS.map((group) => [group, spread(splits.map((s) => s[group]))])) as Record<ThreadGroup, Spread | null>;
}

function fmtSpread(s: Spread | null, fmt: (n: number) => string): string {
  return s === null ? 'n/a' : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

const cpu = (n: number): string => n.toFixed(2);

/** Each run's rows, then every target's median (range), then the ratios of medians to the first target. */
export function formatRuns(records: readonly RunRecord[], summary: readonly TargetRuns[]): string {
  const perRun = [['run', 'target', 'load avg', 'entries/s', 'committed/s', 'light p99', 'CPU s/M', 'flags']];
  for (const { run, loadAverage, cores, result: r } of records) {
    const flags = [r.clientSaturated ? 'CLIENT SATURATED' : '', machineBusy({ loadAverage, cores }) ? 'MACHINE BUSY' : ''].filter(Boolean).join(', ');
    perRun.push([
      String(run + 1),
      r.target,
      loadAverage.toFixed(2),
      fmtInt(r.entriesPerSec),
      r.committedPerSec === null ? 'n/a' : fmtInt(r.committedPerSec),
      fmtUs(r.classes.light.accepted?.p99),
      r.gateway.cpuSecondsPerMillion === null ? 'n/a' : cpu(r.gateway.cpuSecondsPerMillion),
      flags || 'ok',
    ]);
  }
  const medians = [['target', 'runs', 'entries/s', 'committed/s', 'heavy p99', 'light p50', 'light p99', 'CPU s/M', 'flagged']];
  for (const t of summary) {
    medians.push([
      t.target,
      String(t.runs),
      fmtSpread(t.entriesPerSec, fmtInt),
      fmtSpread(t.committedPerSec, fmtInt),
      fmtSpread(t.heavyP99Us, fmtUs),
      fmtSpread(t.lightP50Us, fmtUs),
      fmtSpread(t.lightP99Us, fmtUs),
      fmtSpread(t.cpuSecondsPerMillion, cpu),
      `${t.clientSaturated} client-saturated, ${t.machineBusy} machine-busy`,
    ]);
  }
  const parts = ['each run', '', table(perRun), '', 'median (min–max) over the runs', '', table(medians)];
  const threadRows = [['gateway CPU s/M by thread (median)', ...THREAD_GROUPS]];
  for (const t of summary) {
    if (t.cpuByThread !== null) threadRows.push([t.target, ...THREAD_GROUPS.map((group) => fmtSpread(t.cpuByThread![group], cpu))]);
  }
  if (threadRows.length > 1) parts.push('', table(threadRows));
  const first = summary[0];
  if (first !== undefined && summary.length > 1) {
    const ratioRows = [['ratio of medians', 'entries/s', 'light p50', 'light p99', 'CPU s/M']];
    const div = (a: Spread | null, b: Spread | null): number | null => (a === null || b === null || b.median === 0 ? null : a.median / b.median);
    for (const t of summary.slice(1)) {
      ratioRows.push([
        `${first.target} ÷ ${t.target}`,
        fmtRatio(div(first.entriesPerSec, t.entriesPerSec)),
        fmtRatio(div(first.lightP50Us, t.lightP50Us)),
        fmtRatio(div(first.lightP99Us, t.lightP99Us)),
        fmtRatio(div(first.cpuSecondsPerMillion, t.cpuSecondsPerMillion)),
      ]);
    }
    parts.push('', table(ratioRows));
  }
  return parts.join('\n');
}
