// The end-to-end load generator: runs a Plan against one gateway with several
// client processes, and merges what they measured into one LoadResult.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Histogram } from 'hdr-histogram-js';
import type { ClassCounts, FromWorker, GoMessage, IntervalMessage, ToWorker, WorkerResult } from './load-protocol.js';
import type { ChainClass, Plan } from './plan.js';
import { THREAD_GROUPS, threadGroup, type ThreadGroup } from '../src/native/index.js';
import { processCpuSeconds, threadCpuSeconds } from './proc.js';
import { mergeHistograms, summarize, type LatencySummary } from './stats.js';
import { epochNow } from './clock.js';

export interface LoadTarget {
  name: string;
  /** ws://host:port */
  url: string;
  /** The gateway's process, when known, to charge its CPU. */
  pid?: number;
  /** Each chain's writer key, when the gateway runs with credits on. */
  keys?: Record<string, string>;
}

export interface LoadSettings {
  durationS: number;
  warmupS: number;
  entrySize: number;
  /** Longest wait for replies and commits after sending stops. */
  drainS?: number;
  /** Chart resolution. */
  intervalMs?: number;
  /**
   * Runs once every connection is open, before any frame is sent: the hostile
   * scenario starts its attack here, on tenants already connected, as they
   * would be when an attack begins.
   */
  beforeGo?: () => Promise<void>;
  /** Told the measured window (epoch ms) as soon as it is fixed, to measure the target over the same span. */
  onWindow?: (measureFrom: number, measureUntil: number) => void;
}

export interface ClassResult {
  chains: number;
  connections: number;
  entriesPerSec: number;
  framesPerSec: number;
  /** Frames sent in the window, answered or not. */
  framesSent: number;
  committedPerSec: number | null;
  accepted: LatencySummary | null;
  committed: LatencySummary | null;
  /** Entries accepted over the whole run, warm-up and drain included: what must become durable. */
  entriesAcceptedTotal: number;
  /** Of all entries accepted, those a committed notice covered by the end of the drain. */
  entriesCommittedTotal: number;
}

export interface ClientReport {
  connections: number;
  /** Share of one core the client process used over the measured window. */
  cpu: number;
  elu: number;
}

export interface SeriesPoint {
  /** Seconds since the measured window began (end of the interval). */
  t: number;
  entriesPerSec: number;
  /** p99 send → accepted of replies that arrived in the interval, all chains and light chains only. */
  p99Us: number | null;
  lightP99Us: number | null;
}

export interface LoadResult {
  target: string;
  url: string;
  durationS: number;
  entriesPerSec: number;
  framesPerSec: number;
  /** null when the target sent no `committed` notice at all. */
  committedPerSec: number | null;
  classes: Record<ChainClass, ClassResult>;
  /** Latency over all chains. */
  accepted: LatencySummary | null;
  errors: Record<string, number>;
  /** Connections the target closed before the run ended. */
  connectionsLost: number;
  gateway: {
    cpuSeconds: number | null;
    cpuSecondsPerMillion: number | null;
    coresBusy: number | null;
    /**
     * CPU seconds per million entries by thread group, summing to cpuSecondsPerMillion; null
     * for a process that names no thread of its own (the peers). `other` is lmdb's writer,
     * libuv's pool, V8's helpers and any thread that exited during the window.
     */
    cpuSecondsPerMillionByThread: Record<ThreadGroup, number> | null;
  };
  clients: ClientReport[];
  clientSaturated: boolean;
  connectFailures: string[];
  series: SeriesPoint[];
  notes: string[];
  /** Each chain on its own: entries/s accepted and send → accepted latency. */
  chains: ChainResult[];
}

export interface ChainResult {
  name: string;
  cls: ChainClass;
  entriesPerSec: number;
  accepted: LatencySummary | null;
}

function chainResults(plan: Plan, results: readonly WorkerResult[], seconds: number): ChainResult[] {
  return plan.chains.map((chain) => {
    const parts = results.flatMap((r) => (r.chains[chain.name] === undefined ? [] : [r.chains[chain.name]!]));
    const merged = summaryOf(parts.map((p) => p.accepted));
    merged.hist.destroy();
    return { name: chain.name, cls: chain.cls, entriesPerSec: parts.reduce((n, p) => n + p.entriesAccepted, 0) / seconds, accepted: merged.summary };
  });
}

/** A client process this busy over the window was (close to) the bottleneck. */
const SATURATED = 0.9;

class WorkerHandle {
  readonly child: ChildProcess;
  readonly intervals: IntervalMessage[] = [];
  private readonly waiters = new Map<string, { resolve: (msg: FromWorker) => void; reject: (err: Error) => void }>();
  private exited: string | undefined;

  constructor(script: URL) {
    // execArgv: [] so flags given to the bench (e.g. --cpu-prof) do not apply to clients.
    this.child = fork(script, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (msg: FromWorker) => {
      if (msg.type === 'interval') this.intervals.push(msg);
      else this.waiters.get(msg.type)?.resolve(msg);
    });
    this.child.on('error', () => undefined); // a send to a dead client; its exit is reported below
    this.child.on('exit', (code, signal) => {
      this.exited = `a load client exited (${signal ?? code}) before it finished`;
      for (const w of this.waiters.values()) w.reject(new Error(this.exited));
    });
  }

  send(msg: ToWorker): void {
    if (this.exited === undefined) this.child.send(msg);
  }

  /** The next message of `type`; rejects if the process dies first. */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.exited !== undefined) return reject(new Error(this.exited));
      this.waiters.set(type, {
        resolve: (msg) => {
          this.waiters.delete(type);
          resolve(msg as Extract<FromWorker, { type: T }>);
        },
        reject,
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `plan` against `target` and returns the merged measurements. Always bounded in time. */
export async function runLoad(target: LoadTarget, plan: Plan, settings: LoadSettings): Promise<LoadResult> {
  const workers = plan.workers.map(() => new WorkerHandle(new URL('./load-worker.js', import.meta.url)));
  try {
    return await drive(target, plan, settings, workers);
  } finally {
    workers.forEach((w) => w.kill());
  }
}

async function drive(target: LoadTarget, plan: Plan, settings: LoadSettings, workers: WorkerHandle[]): Promise<LoadResult> {
  const ready = workers.map((w, i) => {
    w.send({ type: 'init', url: target.url, conns: plan.workers[i] ?? [], entrySize: settings.entrySize, keys: target.keys });
    return w.next('ready');
  });
  const failures = (await withTimeout(Promise.all(ready), 15_000, 'opening connections')).flatMap((r) => r.failures);
  const total = plan.workers.reduce((n, w) => n + w.length, 0);
  if (failures.length === total) throw new Error(`no connection to ${target.url} opened: ${failures[0] ?? ''}`);

  await settings.beforeGo?.();
  const go = schedule(settings);
  settings.onWindow?.(go.measureFrom, go.measureUntil);
  const cpu = sampleGatewayCpu(target.pid, go);
  const done = workers.map((w) => w.next('done'));
  workers.forEach((w) => w.send(go));
  const bound = go.drainUntil - epochNow() + 10_000;
  const results = (await withTimeout(Promise.all(done), bound, `the run against ${target.name}`)).map((d) => d.result);
  return merge(target, plan, settings, results, workers, failures, await cpu);
}

function schedule(settings: LoadSettings): GoMessage {
  const startAt = epochNow() + 100;
  const measureFrom = startAt + settings.warmupS * 1000;
  const measureUntil = measureFrom + settings.durationS * 1000;
  return {
    type: 'go',
    startAt,
    measureFrom,
    measureUntil,
    drainUntil: measureUntil + (settings.drainS ?? 5) * 1000,
    intervalMs: settings.intervalMs ?? Math.max(250, Math.round((settings.durationS * 1000) / 40)),
  };
}

/** Gateway CPU seconds used between the window's start and end (same instants the clients use), in all and by thread group. */
interface GatewayCpu {
  total: number;
  /** Null when the process names none of its threads. */
  byThread: Record<ThreadGroup, number> | null;
}

function sampleGatewayCpu(pid: number | undefined, go: GoMessage): Promise<GatewayCpu | null> {
  if (pid === undefined) return Promise.resolve(null);
  return new Promise((resolve) => {
    let before: { total: number | undefined; threads: Map<string, number> | undefined } | undefined;
    setTimeout(() => (before = { total: processCpuSeconds(pid), threads: threadCpuSeconds(pid) }), go.measureFrom - epochNow());
    setTimeout(() => {
      const total = processCpuSeconds(pid);
      const threads = threadCpuSeconds(pid);
      if (before?.total === undefined || total === undefined) return resolve(null);
      const used = total - before.total;
      resolve({ total: used, byThread: before.threads === undefined || threads === undefined ? null : byThreadGroup(before.threads, threads, used) });
    }, go.measureUntil - epochNow());
  });
}

/**
 * Splits `total` by thread group from two per-name snapshots. Named groups get what their
 * threads used; `other` gets the rest, so the groups add up to the process's own count.
 */
function byThreadGroup(before: Map<string, number>, after: Map<string, number>, total: number): Record<ThreadGroup, number> | null {
  const split = Object.fromEntries(THREAD_GROUPS.map((group) => [group, 0])) as Record<ThreadGroup, number>;
  let named = 0;
  for (const [name, seconds] of after) {
    const group = threadGroup(name);
    if (group === 'other') continue;
    const used = Math.max(0, seconds - (before.get(name) ?? 0));
    split[group] += used;
    named += used;
  }
  if (named === 0) return null;
  split.other = Math.max(0, total - named);
  return split;
}

function sumCounts(results: readonly WorkerResult[], cls: ChainClass): ClassCounts {
  const total: ClassCounts = { framesSent: 0, framesAccepted: 0, entriesAccepted: 0, framesCommitted: 0, entriesCommitted: 0 };
  for (const r of results) {
    const c = r.counts[cls];
    total.framesSent += c.framesSent;
    total.framesAccepted += c.framesAccepted;
    total.entriesAccepted += c.entriesAccepted;
    total.framesCommitted += c.framesCommitted;
    total.entriesCommitted += c.entriesCommitted;
  }
  return total;
}

function summaryOf(encoded: string[]): { hist: Histogram; summary: LatencySummary | null } {
  const hist = mergeHistograms(encoded);
  return { hist, summary: summarize(hist) };
}

function classResult(plan: Plan, results: readonly WorkerResult[], cls: ChainClass, seconds: number, committedSeen: boolean): ClassResult {
  const c = sumCounts(results, cls);
  const accepted = summaryOf(results.map((r) => r.histograms[cls].accepted));
  const committed = summaryOf(results.map((r) => r.histograms[cls].committed));
  const out: ClassResult = {
    chains: plan.chains.filter((ch) => ch.cls === cls).length,
    connections: plan.workers.flat().filter((w) => w.cls === cls).length,
    entriesPerSec: c.entriesAccepted / seconds,
    framesPerSec: c.framesAccepted / seconds,
    framesSent: c.framesSent,
    committedPerSec: committedSeen ? c.entriesCommitted / seconds : null,
    accepted: accepted.summary,
    committed: committedSeen ? committed.summary : null,
    entriesAcceptedTotal: results.reduce((n, r) => n + r.entriesAcceptedTotal[cls], 0),
    entriesCommittedTotal: results.reduce((n, r) => n + r.entriesCommittedTotal[cls], 0),
  };
  accepted.hist.destroy();
  committed.hist.destroy();
  return out;
}

function mergeSeries(workers: readonly WorkerHandle[], intervalMs: number): SeriesPoint[] {
  const byIndex = new Map<number, IntervalMessage[]>();
  for (const m of workers.flatMap((w) => w.intervals)) byIndex.set(m.index, [...(byIndex.get(m.index) ?? []), m]);
  return [...byIndex.keys()]
    .sort((a, b) => a - b)
    .map((index) => {
      const msgs = byIndex.get(index) ?? [];
      const all = summaryOf(msgs.flatMap((m) => [m.latency.heavy, m.latency.light]));
      const light = summaryOf(msgs.map((m) => m.latency.light));
      all.hist.destroy();
      light.hist.destroy();
      const entries = msgs.reduce((n, m) => n + m.entries, 0);
      return {
        t: ((index + 1) * intervalMs) / 1000,
        entriesPerSec: entries / (intervalMs / 1000),
        p99Us: all.summary?.p99 ?? null,
        lightP99Us: light.summary?.p99 ?? null,
      };
    });
}

function merge(
  target: LoadTarget,
  plan: Plan,
  settings: LoadSettings,
  results: WorkerResult[],
  workers: WorkerHandle[],
  connectFailures: string[],
  sampledCpu: GatewayCpu | null,
): LoadResult {
  const gatewayCpu = sampledCpu?.total ?? null;
  const seconds = settings.durationS;
  const committedSeen = results.some((r) => r.committedSeen);
  const heavy = classResult(plan, results, 'heavy', seconds, committedSeen);
  const light = classResult(plan, results, 'light', seconds, committedSeen);
  const all = summaryOf(results.flatMap((r) => [r.histograms.heavy.accepted, r.histograms.light.accepted]));
  all.hist.destroy();
  const entries = heavy.entriesPerSec + light.entriesPerSec;
  const errors: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const clients = results.map((r) => ({ connections: r.connections, cpu: r.cpuSeconds / r.wallSeconds, elu: r.elu }));
  const clientSaturated = clients.some((c) => c.cpu >= SATURATED || c.elu >= SATURATED);
  const intervalMs = schedule(settings).intervalMs;
  return {
    target: target.name,
    url: target.url,
    durationS: seconds,
    entriesPerSec: entries,
    framesPerSec: heavy.framesPerSec + light.framesPerSec,
    committedPerSec: committedSeen ? (heavy.committedPerSec ?? 0) + (light.committedPerSec ?? 0) : null,
    classes: { heavy, light },
    accepted: all.summary,
    errors,
    connectionsLost: results.reduce((n, r) => n + r.connectionsLost, 0),
    gateway: {
      cpuSeconds: gatewayCpu,
      cpuSecondsPerMillion: gatewayCpu === null || entries === 0 ? null : gatewayCpu / ((entries * seconds) / 1e6),
      coresBusy: gatewayCpu === null ? null : gatewayCpu / seconds,
      cpuSecondsPerMillionByThread: perMillion(sampledCpu?.byThread ?? null, entries * seconds),
    },
    clients,
    clientSaturated,
    connectFailures,
    series: mergeSeries(workers, intervalMs),
    chains: chainResults(plan, results, seconds),
    notes: [...runNotes(results, clientSaturated), ...machineNote(clients, gatewayCpu, seconds)],
  };
}

/** Client and gateway share the machine: say so when together they used (nearly) every core. */
function perMillion(byThread: Record<ThreadGroup, number> | null, entries: number): Record<ThreadGroup, number> | null {
  if (byThread === null || entries === 0) return null;
  const millions = entries / 1e6;
  return Object.fromEntries(THREAD_GROUPS.map((group) => [group, byThread[group] / millions])) as Record<ThreadGroup, number>;
}

function machineNote(clients: readonly ClientReport[], gatewayCpu: number | null, seconds: number): string[] {
  if (gatewayCpu === null) return [];
  const used = gatewayCpu / seconds + clients.reduce((n, c) => n + c.cpu, 0);
  const cores = availableParallelism();
  if (used < 0.9 * cores) return [];
  return [`gateway and load clients together kept ${used.toFixed(2)} of ${cores} cores busy: they competed for CPU`];
}

function runNotes(results: readonly WorkerResult[], clientSaturated: boolean): string[] {
  const notes: string[] = [];
  if (clientSaturated) notes.push('a load client was saturated (≥ 90% of a core or of its event loop): the target may be faster than shown');
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  if (skipped > 0) notes.push(`${skipped} scheduled light frame(s) skipped: their connection already had 1000 frames waiting`);
  const late = results.reduce((n, r) => n + r.lateSends, 0);
  const maxLate = Math.max(0, ...results.map((r) => r.maxLateMs));
  if (late > 0)
    notes.push(`${late} scheduled frame(s) left the client > 5 ms late (worst ${maxLate.toFixed(1)} ms): client-side delay, not counted as latency`);
  const uncommitted = results.reduce((n, r) => n + r.uncommitted, 0);
  if (uncommitted > 0) notes.push(`${uncommitted} accepted entries had no committed notice within the drain time`);
  const lost = results.reduce((n, r) => n + r.connectionsLost, 0);
  const why = new Map<string, number>();
  for (const r of results) for (const [k, n] of Object.entries(r.lostBecause)) why.set(k, (why.get(k) ?? 0) + n);
  if (lost > 0) notes.push(`${lost} connection(s) closed by the target during the run (${[...why].map(([k, n]) => `${n} × ${k}`).join('; ')})`);
  return notes;
}
