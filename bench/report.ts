// Human-readable tables. Every number printed here is also in the --json output.
import { THREAD_GROUPS } from '../src/native/index.js';
import type { LoadResult } from './load.js';
import type { Plan } from './plan.js';
import type { LatencySummary } from './stats.js';

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtUs(us: number | null | undefined): string {
  if (us === null || us === undefined) return 'n/a';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MiB`;
  if (n >= 2 ** 10) return `${Math.round(n / 2 ** 10)} KiB`;
  return `${n} B`;
}

export function fmtRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}×`;
}

/** Columns padded to their widest cell; the first column left-aligned, the rest right-aligned. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('   ')).join('\n');
}

function keyValues(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export function describePlan(plan: Plan, batch: number, entrySize: number, inflight: number): string {
  const heavy = plan.chains.filter((c) => c.cls === 'heavy');
  const light = plan.chains.filter((c) => c.cls === 'light');
  const rates = light.map((c) => c.rateFps ?? 0);
  const parts = [`${plan.chains.length} chains`];
  if (heavy.length > 0) {
    const conns = heavy.reduce((n, c) => n + c.connections, 0);
    parts.push(`${heavy.length} heavy at full speed over ${conns} connections (${inflight} frames in flight each)`);
  }
  if (light.length > 0) {
    const lo = Math.min(...rates).toFixed(0);
    const hi = Math.max(...rates).toFixed(0);
    parts.push(`${light.length} light on a schedule of ${lo === hi ? hi : `${lo}–${hi}`} frames/s each`);
  }
  return `${parts.join(', ')}; ${batch} entries × ${entrySize} B per frame`;
}

function latencyRow(label: string, s: LatencySummary | null): string[] {
  if (s === null) return [label, 'n/a', '', '', '', '', ''];
  return [label, fmtUs(s.p50), fmtUs(s.p90), fmtUs(s.p99), fmtUs(s.p999), fmtUs(s.max), fmtInt(s.samples)];
}

function errorsLine(errors: Record<string, number>): string {
  const list = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  return list.length === 0 ? 'none' : list.map(([code, n]) => `${code} ${fmtInt(n)}`).join(', ');
}

/** The gateway's CPU per million entries by thread group, when its threads are named. */
function threadCpuRow(r: LoadResult): [string, string][] {
  const split = r.gateway.cpuSecondsPerMillionByThread;
  if (split === null) return [];
  return [['  by thread', THREAD_GROUPS.map((group) => `${group} ${split[group].toFixed(2)}`).join(' · ') + ' s per million']];
}

function clientsLine(r: LoadResult): string {
  const each = r.clients.map((c) => `${Math.round(c.cpu * 100)}% (loop ${Math.round(c.elu * 100)}%)`).join(', ');
  return `${r.clients.length} processes using ${each} of a core — ${r.clientSaturated ? 'SATURATED' : 'not saturated'}`;
}

/** The full report of one run. */
export function formatLoad(r: LoadResult, shape: string, warmupS: number): string {
  const committed = r.committedPerSec === null ? 'n/a (the target sends no committed notices)' : `${fmtInt(r.committedPerSec)} entries/s`;
  const cpu =
    r.gateway.cpuSecondsPerMillion === null
      ? 'n/a (process unknown: pass --pid with --url)'
      : `${r.gateway.cpuSecondsPerMillion.toFixed(2)} s per million entries (${(r.gateway.coresBusy ?? 0).toFixed(2)} cores busy)`;
  const lines = [
    `${r.target}  ${r.url}  — ${r.durationS} s measured after ${warmupS} s warm-up`,
    `  ${shape}`,
    '',
    keyValues([
      ['accepted', `${fmtInt(r.entriesPerSec)} entries/s, ${fmtInt(r.framesPerSec)} frames/s`],
      ['committed', committed],
      ['errors', errorsLine(r.errors)],
      ['gateway CPU', cpu],
      ...threadCpuRow(r),
      ['load clients', clientsLine(r)],
    ]),
    '',
    table([
      ['send →', 'p50', 'p90', 'p99', 'p99.9', 'max', 'frames'],
      latencyRow('heavy accepted', r.classes.heavy.accepted),
      latencyRow('heavy committed', r.classes.heavy.committed),
      latencyRow('light accepted', r.classes.light.accepted),
      latencyRow('light committed', r.classes.light.committed),
    ]),
  ];
  if (r.connectFailures.length > 0) lines.push(`  ${r.connectFailures.length} connections failed to open, e.g. ${r.connectFailures[0]}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

export interface Ratios {
  of: string;
  to: string;
  entriesPerSec: number | null;
  heavyP99: number | null;
  lightP99: number | null;
  cpuPerMillion: number | null;
}

const div = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

export function ratios(a: LoadResult, b: LoadResult): Ratios {
  return {
    of: a.target,
    to: b.target,
    entriesPerSec: div(a.entriesPerSec, b.entriesPerSec),
    heavyP99: div(a.classes.heavy.accepted?.p99, b.classes.heavy.accepted?.p99),
    lightP99: div(a.classes.light.accepted?.p99, b.classes.light.accepted?.p99),
    cpuPerMillion: div(a.gateway.cpuSecondsPerMillion, b.gateway.cpuSecondsPerMillion),
  };
}

/** Side by side, then each target against the straightforward gateway and against the echo. */
export function formatCompare(results: readonly LoadResult[], all: readonly Ratios[]): string {
  const rows = [['target', 'entries/s', 'frames/s', 'committed/s', 'heavy p99', 'light p50', 'light p99', 'CPU s/M', 'clients']];
  for (const r of results) {
    rows.push([
      r.target,
      fmtInt(r.entriesPerSec),
      fmtInt(r.framesPerSec),
      r.committedPerSec === null ? 'n/a' : fmtInt(r.committedPerSec),
      fmtUs(r.classes.heavy.accepted?.p99),
      fmtUs(r.classes.light.accepted?.p50),
      fmtUs(r.classes.light.accepted?.p99),
      r.gateway.cpuSecondsPerMillion === null ? 'n/a' : r.gateway.cpuSecondsPerMillion.toFixed(2),
      r.clientSaturated ? 'SATURATED' : 'ok',
    ]);
  }
  const ratioRows = [['ratio', 'entries/s', 'heavy p99', 'light p99', 'CPU s/M']];
  for (const q of all) {
    ratioRows.push([`${q.of} ÷ ${q.to}`, fmtRatio(q.entriesPerSec), fmtRatio(q.heavyP99), fmtRatio(q.lightP99), fmtRatio(q.cpuPerMillion)]);
  }
  return ['side by side (latency is send → accepted)', '', table(rows), '', table(ratioRows)].join('\n');
}

/** The same load with a feature on and off: medians over the rounds, and on ÷ off. */
export interface OnOffSummary {
  on: { entriesPerSec: number; cpuSecondsPerMillion: number | null };
  off: { entriesPerSec: number; cpuSecondsPerMillion: number | null };
  /** on ÷ off: below 1 is what the feature costs in throughput; above 1, in CPU per entry. */
  throughputRatio: number | null;
  cpuRatio: number | null;
}

/** Credits on (chainlanes) and off (chainlanes-open). */
export type CreditsSummary = OnOffSummary;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians of the runs whose target is `onTarget` and `offTarget`. */
export function summarizeOnOff(results: readonly LoadResult[], onTarget: string, offTarget: string): OnOffSummary {
  const side = (target: string): OnOffSummary['on'] => {
    const runs = results.filter((r) => r.target === target);
    const cpu = runs.map((r) => r.gateway.cpuSecondsPerMillion).filter((c): c is number => c !== null);
    return { entriesPerSec: runs.length === 0 ? 0 : median(runs.map((r) => r.entriesPerSec)), cpuSecondsPerMillion: cpu.length === 0 ? null : median(cpu) };
  };
  const on = side(onTarget);
  const off = side(offTarget);
  return { on, off, throughputRatio: div(on.entriesPerSec, off.entriesPerSec), cpuRatio: div(on.cpuSecondsPerMillion, off.cpuSecondsPerMillion) };
}

export function summarizeCredits(results: readonly LoadResult[]): CreditsSummary {
  return summarizeOnOff(results, 'chainlanes', 'chainlanes-open');
}

/** Each round's run of a feature on and off, then the medians; `onTarget` names the runs with it on. */
export function formatOnOff(
  feature: string,
  title: string,
  shape: string,
  runs: readonly { round: number; result: LoadResult }[],
  onTarget: string,
  s: OnOffSummary,
): string {
  const rows = [['round', feature, 'entries/s', 'committed/s', 'heavy p99', 'light p99', 'CPU s/M', 'errors', 'clients']];
  for (const { round, result: r } of runs) {
    rows.push([
      String(round + 1),
      r.target === onTarget ? 'on' : 'off',
      fmtInt(r.entriesPerSec),
      r.committedPerSec === null ? 'n/a' : fmtInt(r.committedPerSec),
      fmtUs(r.classes.heavy.accepted?.p99),
      fmtUs(r.classes.light.accepted?.p99),
      r.gateway.cpuSecondsPerMillion === null ? 'n/a' : r.gateway.cpuSecondsPerMillion.toFixed(3),
      errorsLine(r.errors),
      r.clientSaturated ? 'SATURATED' : 'ok',
    ]);
  }
  const cpu = (c: number | null): string => (c === null ? 'n/a' : c.toFixed(3));
  return [
    title,
    `  ${shape}`,
    '',
    table(rows),
    '',
    table([
      ['median', 'entries/s', 'CPU s/M'],
      [`${feature} on`, fmtInt(s.on.entriesPerSec), cpu(s.on.cpuSecondsPerMillion)],
      [`${feature} off`, fmtInt(s.off.entriesPerSec), cpu(s.off.cpuSecondsPerMillion)],
      ['on ÷ off', fmtRatio(s.throughputRatio), fmtRatio(s.cpuRatio)],
    ]),
  ].join('\n');
}

export function formatCredits(shape: string, runs: readonly { round: number; result: LoadResult }[], s: CreditsSummary): string {
  return formatOnOff(
    'credits',
    'credits on (chainlanes, authenticated: every frame billed and burned) vs off (chainlanes-open), same load, alternating order',
    shape,
    runs,
    'chainlanes',
    s,
  );
}
