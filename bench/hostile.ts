// Hostile: the gateway under every kind of hostile connection it was hardened
// against (hostile-protocol.ts), 1,000 of each at once by default, while two
// bystanders go on: a light chain sending single entries on a schedule and a
// chain flooding at full speed. The bystanders run alone first, then under the
// attack, against the same gateway process, so the ratios compare like with
// like on a shared machine. Measured besides: the gateway's resident memory
// against its configured budget, the front door's longest turn, and that
// nothing the bystanders were told is accepted goes missing: their committed
// notices, the gateway's committedSeq, and the store itself once the gateway
// has exited (read, and checked by `chainlanes verify`).
//
// With a CPU budget for the attack (--attack-cpu, a cgroup: cgroup.ts) the
// attack cannot take the gateway's cores, as an attacker on other machines
// could not: it takes at most its budget, and a control phase between alone
// and the attack runs a busy loop of the same budget in the same cgroup. The
// attack is then judged against the control: what the gateway lets the attack
// do beyond taking that much CPU.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuGroup } from './cgroup.js';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import {
  ATTACK_KINDS,
  KIND_DESCRIPTIONS,
  emptyKindStats,
  perKind,
  type AttackInit,
  type AttackKind,
  type AttackResult,
  type FromAttacker,
  type KindStats,
  type ToAttacker,
} from './hostile-protocol.js';
import { runLoad, type LoadResult } from './load.js';
import { apportion, isolationPlan, type Plan } from './plan.js';
import { MetricsText } from './metrics-text.js';
import { processMemory, type ProcessMemory } from './proc.js';
import { fmtBytes, fmtInt, fmtRatio, fmtUs, table } from './report.js';
import { formatTrace, perfMissing, TurnTracer, type TurnTrace } from './turn-trace.js';
import { startTarget, verifyStore, type RunningTarget, type StoreVerification } from './targets.js';
import { epochNow } from './clock.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * The limits the gateway runs with: a modest memory budget set explicitly and
 * the client buffers under it. Inbound takes a whole frame's worth per stream at
 * open, so 1 GiB / 256 KiB = 4,096 streams: the four WebSocket kinds × 1,000,
 * the bystanders and the latecomer fit, so the whole attack is held at once
 * (refusing streams past the bound has its own test, test/e2e/bounds.test.ts).
 * 1,000 slow readers may each hold 256 KiB of replies, four times the total
 * allowed, so the total's sweep has work. Together with the default rings
 * (384 MiB) and the process's own baseline (576 MiB, config/schema.ts
 * PROCESS_BASELINE_BYTES): 1.25 × 256 + 64 + 1,024 + 384 + 576 = 2,368 MiB of
 * the 2.5 GiB the gateway checks its config against.
 */
export const HOSTILE_LIMITS = {
  memoryBudgetBytes: 2.5 * GiB,
  maxFrameBytes: 256 * KiB,
  maxInboundTotalBytes: 1 * GiB,
  maxOutboundBytes: 256 * KiB,
  maxOutboundTotalBytes: 64 * MiB,
  maxUnsealedBytes: 256 * MiB,
} as const;

/** Attack connections come from these, in turn: a cap per address would otherwise see one client. */
const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];
/** Longest the attack may take to open its connections before the bystanders start anyway. */
const RAMP_MAX_MS = 20_000;
/** After the attack starts, before the bystanders' warm-up: the floods are up to speed. */
const SETTLE_MS = 1000;
const MEMORY_SAMPLE_MS = 100;
const SCRAPE_TIMEOUT_MS = 5000;
const PROBE_TIMEOUT_MS = 5000;
/** After the attack, how long the bystanders wait for the committed notices of what they sent (alone: the load's default). */
const ATTACK_DRAIN_S = 10;
/** Then how long the gateway may take to report every accepted entry durable (its committedSeq). */
const DURABLE_WAIT_MS = 5_000;
/** A gateway stopping answers and seals what it holds first. */
const STOP_GRACE_MS = 15_000;

export interface HostileShape {
  /** Connections of each kind held at once. */
  perKind: number;
  kinds: AttackKind[];
  attackWorkers: number;
  /** The attack processes' nice value (0: the same priority as everything else). */
  attackNice: number;
  /** Cores' worth of CPU the attack may use in all (a cgroup), with a control phase of a busy loop of that much; null: no budget, no control. */
  attackCores: number | null;
  /** The cores the attack and the control run on (a cpuset); null: any. */
  attackPinned: number[] | null;
  /** Bystander light chain: single-entry frames per second. */
  lightRate: number;
  /** Bystander flood: connections, entries per frame, frames in flight. */
  floodConnections: number;
  batch: number;
  inflight: number;
  entrySize: number;
}

/** Gateway measurements over one phase's measured window. */
export interface GatewayWindow {
  coresBusy: number | null;
  /**
   * Upper bounds of the buckets holding the 50th and 99th percentile of the
   * front door's event-loop delay (s) between the scrapes at the window's start
   * and end; null without both.
   */
  loopDelayP50S: number | null;
  loopDelayP99S: number | null;
  /** Frames refused in the window, by code; null without both scrapes. */
  rejected: Record<string, number> | null;
  /** Of the three /metrics scrapes (start, middle, end), how many the gateway answered within 5 s. */
  scrapesAnswered: number;
  /** WebSocket connections open halfway through the window. */
  connectionsMidway: number | null;
  /** Entries the gateway made durable per second over the window, all chains (the sealer's pace). */
  entriesCommittedPerSec: number | null;
  peakRss: ProcessMemory | null;
  /** The front door's turns in the window (chainlanes_front_door_turn_seconds); null without both scrapes or the native meter. */
  turns: TurnsWindow | null;
}

/** The front door's turns over a window, from the histogram of their busy times. */
export interface TurnsWindow {
  turns: number;
  /** Turns busy longer than LONG_TURN_S. */
  long: number;
  /** The bucket the longest turn fell in: above `aboveS`, at most `atMostS` (Infinity: past the last bound). */
  longest: { aboveS: number; atMostS: number } | null;
  /** Of the window's wall time, the share the front door was busy, and the CPU it used (cores). */
  busyShare: number;
  cpuCores: number;
  /** The worst turns the gateway logged in the window (its `long-turns` lines), longest first, and those that used the most CPU. */
  worst: LoggedTurn[];
  worstCpu: LoggedTurn[];
}

/** A long turn as the gateway logs it (src/defence/turn-meter.ts LongTurn). */
export interface LoggedTurn {
  endedAt: number;
  /** The end on the monotonic clock (gateways before it was logged: absent). */
  monotonicMs?: number;
  busyMs: number;
  cpuMs: number;
  counts: Record<string, number>;
  /** Where the turn went, with --trace-turns. */
  trace?: TurnTrace;
}

/** The target's bound on a front-door turn under attack (issue #26). */
const LONG_TURN_S = 0.01;

export interface Phase {
  load: LoadResult;
  lightP50Us: number | null;
  lightP99Us: number | null;
  floodEntriesPerSec: number;
  gateway: GatewayWindow;
  /** What the CPU-budgeted group (the busy loop, or the attack) used over the window; null when the phase had none. */
  budgeted: GroupUse | null;
}

/** A cgroup's use over a window: cores used, and the share of CFS periods in which its quota ran out. */
export interface GroupUse {
  cores: number | null;
  throttledShare: number | null;
}

export interface KindReport extends KindStats {
  kind: AttackKind;
  /** Connections of this kind the attack holds at once (its slots). */
  slots: number;
  /** Open when the first round of opening settled, before the bystanders started. */
  openAtStart: number;
}

/** A tenant that connects in the middle of the attack: does it get in? */
export interface Latecomer {
  outcome: 'accepted' | 'refused' | 'no answer' | 'failed';
  detail: string;
  acceptedUs: number | null;
  committed: boolean;
}

/**
 * One tenant chain seen three ways: what its client was told (accepted, and
 * covered by committed notices), what the gateway says after the attack
 * (GET /v1/chains/{name}; null when it did not answer), and what the store
 * holds once the gateway has exited (null if it cannot be read).
 */
export interface ChainDurability {
  chain: string;
  role: 'light' | 'flood' | 'latecomer';
  /** Entries the client was told are accepted, both phases, warm-up and drain included. */
  accepted: number;
  /** Of those, entries a committed notice covered. */
  notified: number;
  nextSeq: number | null;
  committedSeq: number | null;
  /** Entries of the chain in the store after the gateway exited. */
  stored: number | null;
}

export interface HostileResult {
  target: string;
  url: string;
  config: { limits: Record<string, number | null>; scheduler: { frontDoorRealtimePriority: number | null } };
  budgetBytes: number;
  shape: HostileShape;
  alone: Phase;
  /** The busy loop of the attack's CPU budget, when the attack has one (--attack-cpu). */
  control: Phase | null;
  attack: Phase;
  /** Under attack against the baseline: the control when there is one, else alone. */
  ratios: { lightP99: number | null; lightP50: number | null; floodEntriesPerSec: number | null };
  kinds: KindReport[];
  attackClients: { cpu: number; elu: number }[];
  latecomer: Latecomer | null;
  memory: { peak: ProcessMemory | null; samples: number; overBudget: boolean };
  durability: {
    chains: ChainDurability[];
    /** Accepted entries whose committed notice never came. */
    withoutNotice: number;
    /** Accepted entries not in the store after exit; null if the store could not be read. */
    notStored: number | null;
    /** Entries covered by a committed notice and yet not in the store: committed data lost. */
    committedLost: number | null;
    bystanderConnectionsLost: number;
    verify: StoreVerification;
    /** How the gateway process ended after SIGTERM ("0" is a clean stop). */
    gatewayExit: string;
  };
  targets: { name: string; measured: string; goal: string; met: boolean | null }[];
  notes: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const httpBase = (url: string): string => url.replace(/^ws/, 'http');

/**
 * `limits.maxConnections` and per-address caps, if this build of the gateway
 * has them: set so that the whole attack fits (it is the buffers under a full
 * attack that are measured), with room for the bystanders and the latecomer.
 */
async function connectionCaps(attackConnections: number): Promise<Record<string, number>> {
  const { DEFAULT_CONFIG } = await import('../src/config/index.js');
  const keys = Object.keys(DEFAULT_CONFIG.limits);
  const caps: Record<string, number> = {};
  if (keys.includes('maxConnections')) caps.maxConnections = attackConnections + 64;
  for (const key of keys.filter((k) => /PerAddress$/i.test(k))) caps[key] = Math.ceil(attackConnections / SOURCE_ADDRESSES.length) + 64;
  return caps;
}

/** Samples the gateway's resident memory every 100 ms; VmHWM also sees peaks between samples. */
class MemorySampler {
  private readonly samples: { at: number; memory: ProcessMemory }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private last: ProcessMemory | undefined;

  constructor(private readonly pid: number) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), MEMORY_SAMPLE_MS);
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  get count(): number {
    return this.samples.length;
  }

  /** The sample with the most VmRSS between `from` and `until` (epoch ms), with VmHWM as of the last sample. */
  peak(from = 0, until = Infinity): ProcessMemory | null {
    let best: ProcessMemory | null = null;
    for (const s of this.samples) if (s.at >= from && s.at <= until && (best === null || s.memory.rss > best.rss)) best = s.memory;
    return best === null ? null : { ...best, peakRss: this.last?.peakRss ?? best.peakRss };
  }

  private sample(): void {
    const memory = processMemory(this.pid);
    if (memory === undefined) return;
    this.last = memory;
    this.samples.push({ at: epochNow(), memory });
  }
}

/** A /metrics scrape, and when the answer came (epoch ms): a busy gateway answers late. */
interface Scrape {
  at: number;
  metrics: MetricsText;
}

async function scrape(base: string): Promise<Scrape | null> {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    return { at: epochNow(), metrics: MetricsText.parse(await res.text()) };
  } catch {
    return null;
  }
}

/** Observations of an unlabelled histogram between two scrapes at or below each bucket's bound (cumulative, as exposed), ascending. */
function cumulativeBuckets(before: Scrape, after: Scrape, family: string): { le: number; count: number }[] {
  const [was] = before.metrics.histogram(family).values();
  const [now] = after.metrics.histogram(family).values();
  if (now === undefined) return [];
  return now.buckets.map(([le, count]) => ({ le, count: count - (was?.buckets.find(([l]) => l === le)?.[1] ?? 0) })).sort((a, b) => a.le - b.le);
}

/** The upper bound of the bucket where `quantile` of the observations of an unlabelled histogram between two scrapes fall. */
function bucketQuantile(before: Scrape, after: Scrape, family: string, quantile: number): number | null {
  const buckets = cumulativeBuckets(before, after, family);
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  return buckets.find((b) => b.count >= quantile * total)?.le ?? null;
}

/** Observations between two scrapes per bucket (not cumulative), by upper bound, ascending. */
function bucketDeltas(before: Scrape, after: Scrape, name: string): { le: number; count: number }[] {
  const cumulative = cumulativeBuckets(before, after, name);
  return cumulative.map((b, i) => ({ le: b.le, count: b.count - (i === 0 ? 0 : cumulative[i - 1]!.count) }));
}

function turnsWindow(before: Scrape, after: Scrape): TurnsWindow | null {
  const name = 'chainlanes_front_door_turn_seconds';
  const buckets = bucketDeltas(before, after, name);
  if (buckets.length === 0) return null;
  const seconds = (after.at - before.at) / 1000;
  const delta = (metric: string): number => (after.metrics.valueOrUndefined(metric) ?? 0) - (before.metrics.valueOrUndefined(metric) ?? 0);
  const top = buckets.findLastIndex((b) => b.count > 0);
  return {
    turns: buckets.reduce((n, b) => n + b.count, 0),
    long: buckets.filter((b) => b.le > LONG_TURN_S).reduce((n, b) => n + b.count, 0),
    longest: top < 0 ? null : { aboveS: top === 0 ? 0 : buckets[top - 1]!.le, atMostS: buckets[top]!.le },
    busyShare: seconds > 0 ? delta(`${name}_sum`) / seconds : 0,
    cpuCores: seconds > 0 ? delta('chainlanes_front_door_cpu_seconds_total') / seconds : 0,
    worst: [],
    worstCpu: [],
  };
}

/** How much each series of counter `name` grew between two scrapes, by the value of its one label `label` (grown series only). */
function labelled(before: Scrape, after: Scrape, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sample of after.metrics.series(name)) {
    const value = sample.labels[label];
    if (value === undefined) continue;
    const delta = sample.value - (before.metrics.valueOrUndefined(name, { [label]: value }) ?? 0);
    if (delta > 0) out[value] = delta;
  }
  return out;
}

interface Scrapes {
  before: Scrape | null;
  middle: Scrape | null;
  after: Scrape | null;
}

interface WindowWatch {
  from: number;
  until: number;
  scrapes: Promise<Scrapes>;
}

/** Scrapes the gateway at a window's start, middle and end (epoch ms). */
function watchWindow(base: string, from: number, until: number): WindowWatch {
  const at = (t: number): Promise<Scrape | null> => sleep(t - epochNow()).then(() => scrape(base));
  const scrapes = Promise.all([at(from), at((from + until) / 2), at(until)]).then(([before, middle, after]) => ({ before, middle, after }));
  return { from, until, scrapes };
}

/** What a phase measured of the gateway, once its window is over. */
async function windowOf(load: LoadResult, watch: WindowWatch | undefined, memory: MemorySampler): Promise<GatewayWindow> {
  const scrapes = watch === undefined ? { before: null, middle: null, after: null } : await watch.scrapes;
  return gatewayWindow(load, scrapes, watch === undefined ? null : memory.peak(watch.from, watch.until));
}

function gatewayWindow(load: LoadResult, scrapes: Scrapes, peakRss: ProcessMemory | null): GatewayWindow {
  const { before, middle, after } = scrapes;
  const both = before !== null && after !== null;
  const loop = 'chainlanes_event_loop_delay_seconds';
  const committed = 'chainlanes_entries_committed_total';
  return {
    coresBusy: load.gateway.coresBusy,
    loopDelayP50S: both ? bucketQuantile(before, after, loop, 0.5) : null,
    loopDelayP99S: both ? bucketQuantile(before, after, loop, 0.99) : null,
    rejected: both ? labelled(before, after, 'chainlanes_frames_rejected_total', 'code') : null,
    scrapesAnswered: [before, middle, after].filter((x) => x !== null).length,
    connectionsMidway: middle?.metrics.valueOrUndefined('chainlanes_connections') ?? null,
    entriesCommittedPerSec:
      both && after.at > before.at
        ? ((after.metrics.valueOrUndefined(committed) ?? 0) - (before.metrics.valueOrUndefined(committed) ?? 0)) / ((after.at - before.at) / 1000)
        : null,
    peakRss,
    turns: both ? turnsWindow(before, after) : null,
  };
}

function phase(load: LoadResult, gateway: GatewayWindow, budgeted: GroupUse | null): Phase {
  return {
    load,
    lightP50Us: load.classes.light.accepted?.p50 ?? null,
    lightP99Us: load.classes.light.accepted?.p99 ?? null,
    floodEntriesPerSec: load.classes.heavy.entriesPerSec,
    gateway,
    budgeted,
  };
}

/** Worst turns shown per phase. */
const WORST_TURNS_SHOWN = 5;

/** The long turns the gateway logs (`long-turns` lines: the worst of each 10 s by busy and by CPU time), read from its output. */
class TurnLog {
  private readonly turns = new Map<string, LoggedTurn>();

  take(line: string): void {
    if (!line.includes('"long-turns"')) return;
    try {
      const entry = JSON.parse(line) as { event?: string; worst?: LoggedTurn[]; worstCpu?: LoggedTurn[] };
      if (entry.event !== 'long-turns') return;
      for (const turn of [...(entry.worst ?? []), ...(entry.worstCpu ?? [])]) this.turns.set(`${turn.endedAt}/${turn.busyMs}`, turn);
    } catch {
      // not a whole JSON line: not one of ours
    }
  }

  /** The `n` turns that ended between `from` and `until` (epoch ms) with the most of `by`. */
  within(from: number, until: number, n: number, by: (turn: LoggedTurn) => number): LoggedTurn[] {
    return [...this.turns.values()]
      .filter((t) => t.endedAt >= from && t.endedAt <= until)
      .sort((a, b) => by(b) - by(a))
      .slice(0, n);
  }
}

/** The attack processes: each holds its share of every kind, opened interleaved. */
class AttackFleet {
  private readonly children: ChildProcess[] = [];
  private readonly done: Promise<AttackResult | null>[] = [];

  /** Forks the attack processes (into `group`, when given, before they do anything) and waits until their connections are open. */
  async start(target: RunningTarget, shape: HostileShape, prefix: string, until: number, group: CpuGroup | null): Promise<Record<AttackKind, number>> {
    const { hostname, port } = new URL(target.url);
    const shares = ATTACK_KINDS.map((kind) =>
      apportion(
        shape.kinds.includes(kind) ? shape.perKind : 0,
        Array.from({ length: shape.attackWorkers }, () => 1),
      ),
    );
    const ready: Promise<Record<AttackKind, number> | null>[] = [];
    let firstIndex = 0;
    for (let w = 0; w < shape.attackWorkers; w++) {
      const counts = perKind((kind) => shares[ATTACK_KINDS.indexOf(kind)]?.[w] ?? 0);
      // execArgv: [] so flags given to the bench (e.g. --cpu-prof) do not apply to the attack.
      const child = fork(new URL('./hostile-worker.js', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('error', () => undefined); // a send to a dead child; its exit settles the promises below
      // On a small machine the attack's own processes take cores the gateway would have:
      // a lower priority for them stands for an attacker on other machines.
      if (shape.attackNice !== 0 && child.pid !== undefined) setPriority(child.pid, shape.attackNice);
      if (group !== null && child.pid !== undefined) group.add(child.pid);
      this.children.push(child);
      ready.push(this.next(child, 'ready').then((m) => (m?.type === 'ready' ? m.open : null)));
      this.done.push(this.next(child, 'done').then((m) => (m?.type === 'done' ? m.result : null)));
      const init: AttackInit = {
        type: 'init',
        host: hostname,
        port: Number(port),
        counts,
        firstIndex,
        prefix,
        sourceAddresses: SOURCE_ADDRESSES,
        maxFrameBytes: HOSTILE_LIMITS.maxFrameBytes,
        until,
        readyBy: epochNow() + RAMP_MAX_MS,
      };
      child.send(init);
      firstIndex += ATTACK_KINDS.reduce((n, k) => n + counts[k], 0);
    }
    const open = perKind(() => 0);
    for (const r of await Promise.all(ready)) if (r !== null) for (const k of ATTACK_KINDS) open[k] += r[k];
    return open;
  }

  /** Every process has opened its connections: all start attacking. */
  go(): void {
    const go: ToAttacker = { type: 'go' };
    for (const c of this.children) if (c.connected) c.send(go);
  }

  stop(): void {
    const stop: ToAttacker = { type: 'stop' };
    for (const c of this.children) if (c.connected) c.send(stop);
  }

  /** Every process's report (null for one that died), bounded in time. */
  async results(): Promise<(AttackResult | null)[]> {
    const timeout = sleep(15_000).then(() => null);
    return Promise.all(this.done.map((d) => Promise.race([d, timeout])));
  }

  kill(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  private next(child: ChildProcess, type: FromAttacker['type']): Promise<FromAttacker | null> {
    return new Promise((resolve) => {
      const onMessage = (msg: FromAttacker): void => {
        if (msg.type !== type) return;
        child.off('message', onMessage);
        resolve(msg);
      };
      child.on('message', onMessage);
      child.once('exit', () => resolve(null));
    });
  }
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
type Reply = { type?: unknown; frame?: unknown; seq?: unknown; count?: unknown; code?: unknown; message?: unknown };

/** Opens a new stream mid-attack and sends one entry: accepted (and committed), refused, or nothing within 5 s. */
function latecomer(url: string, chain: string): Promise<Latecomer> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/v1/chains/${chain}/stream`, { perMessageDeflate: false });
    let sentAt = 0;
    let result: Latecomer | null = null;
    let end = 0;
    const finish = (r: Latecomer): void => {
      clearTimeout(timer);
      ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish(result ?? { outcome: 'no answer', detail: `nothing within ${PROBE_TIMEOUT_MS / 1000} s`, acceptedUs: null, committed: false }),
      PROBE_TIMEOUT_MS,
    );
    ws.on('open', () => {
      sentAt = performance.now();
      ws.send(packr.pack([Buffer.from('latecomer')]));
    });
    ws.on('message', (data: Buffer) => {
      const reply = unpackr.unpack(data) as Reply;
      if (reply.type === 'accepted') {
        end = Number(reply.seq) + Number(reply.count);
        result = {
          outcome: 'accepted',
          detail: 'accepted; no committed notice yet',
          acceptedUs: Math.round((performance.now() - sentAt) * 1000),
          committed: false,
        };
      } else if (reply.type === 'committed' && result !== null && Number(reply.seq) + Number(reply.count) >= end) {
        finish({ ...result, detail: 'accepted and committed', committed: true });
      } else if (reply.type === 'error') {
        finish({ outcome: 'refused', detail: `${String(reply.code)}: ${String(reply.message)}`, acceptedUs: null, committed: false });
      }
    });
    ws.on('error', (err) => finish({ outcome: 'failed', detail: err.message, acceptedUs: null, committed: false }));
  });
}

/** A chain written by a tenant (not the attack), and what its client was told. */
type TenantChain = Pick<ChainDurability, 'chain' | 'role' | 'accepted' | 'notified'>;

function tenantChains(plan: Plan, phases: readonly LoadResult[], late: Latecomer | null, latecomerChain: string): TenantChain[] {
  const chains: TenantChain[] = plan.chains.map((c) => ({
    chain: c.name,
    role: c.cls === 'light' ? 'light' : 'flood',
    accepted: phases.reduce((n, p) => n + p.classes[c.cls].entriesAcceptedTotal, 0),
    notified: phases.reduce((n, p) => n + p.classes[c.cls].entriesCommittedTotal, 0),
  }));
  if (late?.outcome === 'accepted') chains.push({ chain: latecomerChain, role: 'latecomer', accepted: 1, notified: late.committed ? 1 : 0 });
  return chains;
}

/** What the gateway says of each tenant chain, once every accepted entry is durable, the wait ran out, or it does not answer. */
async function askGateway(base: string, chains: readonly TenantChain[]): Promise<Map<string, { nextSeq: number; committedSeq: number }>> {
  const out = new Map<string, { nextSeq: number; committedSeq: number }>();
  for (const chain of chains) {
    let state: { nextSeq: number; committedSeq: number } | null = null;
    const deadline = epochNow() + DURABLE_WAIT_MS;
    do {
      try {
        const res = await fetch(`${base}/v1/chains/${encodeURIComponent(chain.chain)}`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
        state = res.ok ? ((await res.json()) as { nextSeq: number; committedSeq: number }) : null;
      } catch {
        state = null;
      }
      if (state !== null && state.committedSeq >= state.nextSeq) break;
      await sleep(200);
    } while (epochNow() < deadline);
    if (state !== null) out.set(chain.chain, state);
  }
  return out;
}

/** Entries of each chain in the store (its next seq: tenant chains start at 0), read after the gateway exited. */
async function readStore(dataDir: string | undefined): Promise<Map<string, number> | null> {
  if (dataDir === undefined) return null;
  try {
    const { Ledger } = await import('../src/ledger/index.js');
    const ledger = await Ledger.open(dataDir, { readOnly: true });
    try {
      return new Map(ledger.heads().chains.map((c) => [c.chainName, c.nextSeq]));
    } finally {
      await ledger.close();
    }
  } catch {
    return null;
  }
}

function mergeKinds(shape: HostileShape, results: readonly (AttackResult | null)[], openAtStart: Record<AttackKind, number>): KindReport[] {
  return shape.kinds.map((kind) => {
    const total: KindReport = { kind, slots: shape.perKind, openAtStart: openAtStart[kind], ...emptyKindStats() };
    for (const r of results) {
      const s = r?.kinds[kind];
      if (s === undefined) continue;
      total.attempts += s.attempts;
      total.opened += s.opened;
      total.failed += s.failed;
      total.closedByGateway += s.closedByGateway;
      total.openAtEnd += s.openAtEnd;
      total.peakOpen += s.peakOpen; // per process peaks: an upper bound of the peak in all
      total.framesSent += s.framesSent;
      total.bytesSent += s.bytesSent;
      total.messagesRead += s.messagesRead;
      for (const [reason, n] of Object.entries(s.closeReasons)) total.closeReasons[reason] = (total.closeReasons[reason] ?? 0) + n;
    }
    return total;
  });
}

export interface HostileRunOptions {
  durationS: number;
  warmupS: number;
  verbose: boolean;
  /** Node flags for the gateway (e.g. --cpu-prof). */
  nodeFlags: string[];
  /** limits.frontDoorTurnBudgetMs (null: never bar an address; undefined: the gateway's default). */
  turnBudgetMs: number | null | undefined;
  /** scheduler.frontDoorRealtimePriority (null: the gateway's default, an ordinary thread). */
  frontDoorRealtime: number | null;
  /** Trace the front door's long turns with perf into this directory (bench/turn-trace.ts). */
  traceTurnsDir: string | undefined;
  log: (line: string) => void;
}

/** The parts of a run that outlive its phases, and are stopped whatever happens. */
interface RunParts {
  target: RunningTarget;
  fleet: AttackFleet;
  /** The attack's CPU budget (and the control's); null without --attack-cpu. */
  group: CpuGroup | null;
  turnLog: TurnLog;
  /** Recording the front door's turns (--trace-turns), or null. */
  tracer: TurnTracer | null;
}

/** Starts a gateway with HOSTILE_LIMITS, runs the phases, verifies the store, and always stops everything (the cgroup too). */
export async function runHostile(shape: HostileShape, prefix: string, o: HostileRunOptions): Promise<HostileResult> {
  const limits: Record<string, number | null> = { ...HOSTILE_LIMITS, ...(await connectionCaps(attackConnections(shape))) };
  if (o.turnBudgetMs !== undefined) limits.frontDoorTurnBudgetMs = o.turnBudgetMs;
  const turnLog = new TurnLog();
  const traceDir = o.traceTurnsDir;
  if (traceDir !== undefined) {
    const missing = perfMissing();
    if (missing !== null) throw new Error(`--trace-turns: ${missing}`);
    mkdirSync(traceDir, { recursive: true });
  }
  // Open mode: the attackers have no key, and an open gateway is the one they can reach furthest.
  const target = await startTarget('chainlanes-open', {
    verbose: o.verbose,
    config: { limits, scheduler: { frontDoorRealtimePriority: o.frontDoorRealtime } },
    nodeFlags: traceDir === undefined ? o.nodeFlags : [...o.nodeFlags, ...perfFlags(traceDir)],
    stopGraceMs: STOP_GRACE_MS,
    onLine: (line) => turnLog.take(line),
  });
  const fleet = new AttackFleet();
  let group: CpuGroup | null = null;
  const tracer = traceDir === undefined ? null : new TurnTracer(traceDir, target.pid);
  try {
    group = shape.attackCores === null ? null : new CpuGroup('attack', shape.attackCores, shape.attackPinned);
    const realtime = o.frontDoorRealtime === null ? '' : `, its front door under SCHED_RR ${o.frontDoorRealtime}`;
    o.log(`chainlanes: listening at ${target.url} (pid ${target.pid}${realtime}); bystanders alone for ${o.warmupS + o.durationS} s`);
    return await scenario({ target, fleet, group, turnLog, tracer }, shape, prefix, limits, o);
  } finally {
    fleet.kill();
    group?.removeNow();
    await tracer?.stop();
    await target.stop();
  }
}

/** What a phase needs besides its own load. */
interface PhaseContext {
  parts: RunParts;
  plan: Plan;
  timing: { durationS: number; warmupS: number; entrySize: number };
  base: string;
  memory: MemorySampler;
  o: HostileRunOptions;
}

/** A measured phase before its turns are matched with the gateway's log (which is complete only once it has exited). */
interface PendingPhase {
  load: LoadResult;
  watch: WindowWatch | undefined;
  budgeted: Promise<GroupUse> | undefined;
}

async function finishPhase(c: PhaseContext, p: PendingPhase): Promise<Phase> {
  return phase(p.load, await windowOf(p.load, p.watch, c.memory), p.budgeted === undefined ? null : await p.budgeted);
}

/** The bystanders beside a busy loop held to the attack's CPU budget, in the attack's cgroup. */
async function controlPhase(c: PhaseContext, group: CpuGroup, nice: number): Promise<PendingPhase> {
  let busy: ChildProcess | null = null;
  const pending: Partial<PendingPhase> = {};
  const load = await runLoad(c.parts.target, c.plan, {
    ...c.timing,
    beforeGo: async () => {
      busy = startBusyLoop(group, nice);
      c.o.log(
        `hostile: control — a busy loop held to ${group.cores} of a core (cgroup ${group.name}); bystanders beside it for ${c.o.warmupS + c.o.durationS} s`,
      );
      await sleep(SETTLE_MS);
    },
    onWindow: (from, until) => {
      pending.watch = watchWindow(c.base, from, until);
      pending.budgeted = watchGroup(group, from, until);
    },
  }).finally(() => (busy as ChildProcess | null)?.kill('SIGKILL'));
  return { load, watch: pending.watch, budgeted: pending.budgeted };
}

/** A process that only burns CPU (busy-loop.ts), at the attack's nice value, put into `group` at once. */
function startBusyLoop(group: CpuGroup, nice: number): ChildProcess {
  const child = fork(new URL('./busy-loop.js', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  child.on('error', () => undefined);
  if (nice !== 0 && child.pid !== undefined) setPriority(child.pid, nice);
  if (child.pid !== undefined) group.add(child.pid);
  return child;
}

/** Samples a cgroup's CPU and throttling at a window's start and end (epoch ms). */
function watchGroup(group: CpuGroup, from: number, until: number): Promise<GroupUse> {
  const at = (t: number): Promise<{ at: number; cpu: number | null; throttling: ReturnType<CpuGroup['throttling']> }> =>
    sleep(t - epochNow()).then(() => ({ at: epochNow(), cpu: group.cpuSeconds(), throttling: group.throttling() }));
  return Promise.all([at(from), at(until)]).then(([a, b]) => {
    const periods = b.throttling.periods - a.throttling.periods;
    return {
      cores: a.cpu === null || b.cpu === null || b.at <= a.at ? null : (b.cpu - a.cpu) / ((b.at - a.at) / 1000),
      throttledShare: periods > 0 ? (b.throttling.throttled - a.throttling.throttled) / periods : null,
    };
  });
}

async function scenario(
  parts: RunParts,
  shape: HostileShape,
  prefix: string,
  limits: Record<string, number | null>,
  o: HostileRunOptions,
): Promise<HostileResult> {
  const { target, fleet, group } = parts;
  const base = httpBase(target.url);
  const memory = new MemorySampler(target.pid);
  memory.start();
  const plan = isolationPlan(
    { lightChains: 1, lightRate: shape.lightRate, floodConnections: shape.floodConnections, batch: shape.batch, inflight: shape.inflight, workers: 2 },
    prefix,
    true,
  );
  const c: PhaseContext = { parts, plan, timing: { durationS: o.durationS, warmupS: o.warmupS, entrySize: shape.entrySize }, base, memory, o };

  // Filled in by the load's callbacks.
  const seen: {
    alone?: WindowWatch;
    attack?: WindowWatch;
    budgeted?: Promise<GroupUse>;
    latecomer?: Promise<Latecomer>;
    openAtStart: Record<AttackKind, number>;
  } = {
    openAtStart: perKind(() => 0),
  };
  const aloneLoad = await runLoad(target, plan, { ...c.timing, onWindow: (from, until) => (seen.alone = watchWindow(base, from, until)) });
  const pendingControl = group === null ? null : await controlPhase(c, group, shape.attackNice);

  o.log(
    `hostile: opening ${fmtInt(attackConnections(shape))} attack connections from ${shape.attackWorkers} processes` +
      (group === null ? '' : `, held to ${group.cores} of a core together (cgroup ${group.name})`),
  );
  const latecomerChain = `${prefix}-latecomer`;
  const attackUntil = epochNow() + RAMP_MAX_MS + SETTLE_MS + (o.warmupS + o.durationS) * 1000 + 10_000;
  const attackLoad = await runLoad(target, plan, {
    ...c.timing,
    beforeGo: async () => {
      const open = (seen.openAtStart = await fleet.start(target, shape, prefix, attackUntil, group));
      fleet.go();
      o.log(
        `hostile: attack open (${shape.kinds.map((k) => `${k} ${open[k]}`).join(', ')}) and started; bystanders under attack for ${o.warmupS + o.durationS} s`,
      );
      await sleep(SETTLE_MS);
    },
    onWindow: (from, until) => {
      seen.attack = watchWindow(base, from, until);
      if (group !== null) seen.budgeted = watchGroup(group, from, until);
      // The attack ends with the measured window; what follows (the bystanders' drain of commits) is after it.
      void sleep(until - epochNow()).then(() => fleet.stop());
      seen.latecomer = sleep((from + until) / 2 - epochNow()).then(() => latecomer(target.url, latecomerChain));
    },
    drainS: ATTACK_DRAIN_S,
  }).finally(() => fleet.stop());
  const attackResults = await fleet.results();
  const late = seen.latecomer === undefined ? null : await seen.latecomer;

  o.log('hostile: attack over; checking that every accepted entry is durable');
  const loads = [aloneLoad, ...(pendingControl === null ? [] : [pendingControl.load]), attackLoad];
  const tenants = tenantChains(plan, loads, late, latecomerChain);
  const onGateway = await askGateway(base, tenants);
  memory.stop();
  await parts.tracer?.stop();
  const gatewayExit = await target.exit();
  // Only now is the gateway's log of its long turns complete (it logs a window's worst when the window ends, and at exit).
  const alone = await finishPhase(c, { load: aloneLoad, watch: seen.alone, budgeted: undefined });
  const control = pendingControl === null ? null : await finishPhase(c, pendingControl);
  const attack = await finishPhase(c, { load: attackLoad, watch: seen.attack, budgeted: seen.budgeted });
  for (const [p, watch] of [
    [alone, seen.alone],
    [control, pendingControl?.watch],
    [attack, seen.attack],
  ] as const) {
    const turns = p?.gateway.turns;
    if (turns == null || watch === undefined) continue;
    turns.worst = parts.turnLog.within(watch.from, watch.until, WORST_TURNS_SHOWN, (t) => t.busyMs);
    turns.worstCpu = parts.turnLog.within(watch.from, watch.until, WORST_TURNS_SHOWN, (t) => t.cpuMs);
  }
  if (parts.tracer !== null) traceWorstTurns(parts.tracer, [alone, control, attack], o.log);
  const verify = target.dataDir === undefined ? { ok: false, entries: null, output: 'no data directory' } : verifyStore(target.dataDir);
  const stored = await readStore(target.dataDir);
  o.log(`hostile: ${verify.output}`);
  const chains: ChainDurability[] = tenants.map((t) => ({
    ...t,
    nextSeq: onGateway.get(t.chain)?.nextSeq ?? null,
    committedSeq: onGateway.get(t.chain)?.committedSeq ?? null,
    stored: stored === null ? null : (stored.get(t.chain) ?? 0),
  }));
  const sum = (f: (chain: ChainDurability) => number): number => chains.reduce((n, chain) => n + f(chain), 0);

  const peak = memory.peak();
  const budget = HOSTILE_LIMITS.memoryBudgetBytes;
  const baseline = control ?? alone;
  const result: HostileResult = {
    target: 'chainlanes',
    url: target.url,
    config: { limits, scheduler: { frontDoorRealtimePriority: o.frontDoorRealtime } },
    budgetBytes: budget,
    shape,
    alone,
    control,
    attack,
    ratios: {
      lightP99: ratio(attack.lightP99Us, baseline.lightP99Us),
      lightP50: ratio(attack.lightP50Us, baseline.lightP50Us),
      floodEntriesPerSec: ratio(attack.floodEntriesPerSec, baseline.floodEntriesPerSec),
    },
    kinds: mergeKinds(shape, attackResults, seen.openAtStart),
    attackClients: attackResults.flatMap((r) => (r === null ? [] : [{ cpu: r.cpu, elu: r.elu }])),
    latecomer: late,
    memory: { peak, samples: memory.count, overBudget: peak !== null && Math.max(peak.rss, peak.peakRss) >= budget },
    durability: {
      chains,
      withoutNotice: sum((chain) => chain.accepted - chain.notified),
      notStored: stored === null ? null : sum((chain) => Math.max(0, chain.accepted - (chain.stored ?? 0))),
      committedLost: stored === null ? null : sum((chain) => Math.max(0, chain.notified - (chain.stored ?? 0))),
      bystanderConnectionsLost: loads.reduce((n, load) => n + load.connectionsLost, 0),
      verify,
      gatewayExit,
    },
    targets: [],
    notes: [],
  };
  result.targets = targetRows(result);
  result.notes = notesOf(result, attackResults);
  return result;
}

/**
 * Node flags for a gateway traced with perf: V8 names its JIT'd functions (in
 * /tmp/perf-PID.map) only when asked to, and the flag also turns on V8's log,
 * one isolate-*.log per thread in the working directory unless sent to one
 * file in DIR.
 */
function perfFlags(traceDir: string): string[] {
  return ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(traceDir, 'v8.log')}`];
}

/** Each phase's worst turns, with where they went. */
function traceWorstTurns(tracer: TurnTracer, phases: readonly (Phase | null)[], log: (line: string) => void): void {
  const turns = phases.flatMap((p) => [...(p?.gateway.turns?.worst ?? []), ...(p?.gateway.turns?.worstCpu ?? [])]);
  log(`hostile: tracing ${turns.length} turns in perf's records`);
  try {
    const traces = tracer.analyse(turns);
    for (const turn of turns) turn.trace = traces.get(turn);
  } catch (error) {
    // The run's measurements stand without the traces.
    log(`hostile: --trace-turns: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const attackConnections = (shape: HostileShape): number => shape.perKind * shape.kinds.length;

/**
 * Issue #13's targets against the bystanders alone; with a CPU budget for the
 * attack, issue #26's against the control (the same CPU taken by a busy loop).
 */
function targetRows(r: HostileResult): HostileResult['targets'] {
  const d = r.durability;
  const lightSent = r.attack.load.classes.light.framesSent;
  const peak = r.memory.peak;
  const peakBytes = peak === null ? null : Math.max(peak.rss, peak.peakRss);
  const baseline = r.control ?? r.alone;
  const against = r.control === null ? 'alone' : 'under the control';
  const lightBound = r.control === null ? 3 : 1.5;
  const turns = r.attack.gateway.turns;
  return [
    {
      name: `light p99 under attack ≤ ${lightBound}× ${against}`,
      measured:
        r.attack.lightP99Us === null && lightSent > 0
          ? `no reply to any of ${fmtInt(lightSent)} frames vs ${fmtUs(baseline.lightP99Us)}`
          : `${fmtUs(r.attack.lightP99Us)} vs ${fmtUs(baseline.lightP99Us)}: ${fmtRatio(r.ratios.lightP99)}`,
      goal: `≤ ${lightBound}×`,
      // Not one reply under attack is a miss, not a lack of data.
      met: r.ratios.lightP99 !== null ? r.ratios.lightP99 <= lightBound : lightSent > 0 && baseline.lightP99Us !== null ? false : null,
    },
    {
      name: `flood keeps ≥ 80 % of its entries/s ${against}`,
      measured: `${fmtInt(r.attack.floodEntriesPerSec)} vs ${fmtInt(baseline.floodEntriesPerSec)}: ${fmtRatio(r.ratios.floodEntriesPerSec)}`,
      goal: '≥ 0.80×',
      met: r.ratios.floodEntriesPerSec === null ? null : r.ratios.floodEntriesPerSec >= 0.8,
    },
    {
      name: `longest front-door turn under attack ≤ ${LONG_TURN_S * 1000} ms`,
      measured:
        turns === null
          ? 'n/a (no turn histogram: native addon off?)'
          : `${turnBucket(turns)}; ${fmtInt(turns.long)} of ${fmtInt(turns.turns)} turns over ${LONG_TURN_S * 1000} ms`,
      goal: `≤ ${LONG_TURN_S * 1000} ms`,
      met: turns === null ? null : turns.long === 0,
    },
    {
      name: 'gateway RSS under its budget',
      measured: peakBytes === null ? 'n/a' : `peak ${fmtBytes(peakBytes)} of ${fmtBytes(r.budgetBytes)}`,
      goal: `< ${fmtBytes(r.budgetBytes)}`,
      met: peakBytes === null ? null : peakBytes < r.budgetBytes,
    },
    {
      name: 'every accepted entry committed, none lost',
      measured: `${fmtInt(d.withoutNotice)} without a notice, ${d.committedLost === null ? 'store unread' : `${fmtInt(d.committedLost)} committed not stored`}; verify ${d.verify.ok ? 'OK' : 'FAILED'}`,
      goal: '0, 0, verify OK',
      met: d.withoutNotice === 0 && d.committedLost === 0 && d.verify.ok,
    },
  ];
}

/** The bucket the longest turn fell in, and its exact length when the gateway logged it. */
function turnBucket(t: TurnsWindow): string {
  if (t.longest === null) return 'no turn';
  const exact = t.worst[0] === undefined ? '' : ` (${t.worst[0].busyMs.toFixed(1)} ms logged)`;
  const ms = (s: number): string => (s * 1000).toLocaleString('en-US', { maximumFractionDigits: 1 });
  return t.longest.atMostS === Infinity ? `> ${ms(t.longest.aboveS)} ms${exact}` : `${ms(t.longest.aboveS)}–${ms(t.longest.atMostS)} ms${exact}`;
}

function notesOf(r: HostileResult, attackResults: readonly (AttackResult | null)[]): string[] {
  const notes: string[] = [];
  const dead = attackResults.filter((a) => a === null).length;
  if (dead > 0) notes.push(`${dead} attack process(es) did not report: their connections are missing from the attack table`);
  if (r.durability.bystanderConnectionsLost > 0) notes.push(`the gateway closed ${r.durability.bystanderConnectionsLost} bystander connection(s)`);
  for (const c of r.durability.chains) {
    const holds = c.stored ?? c.nextSeq;
    if (holds !== null && holds > c.accepted) {
      notes.push(
        `${c.role} chain: the gateway holds ${fmtInt(holds - c.accepted)} entries more than its client was told were accepted (it took them after the client stopped waiting)`,
      );
    }
  }
  if (r.durability.chains.some((c) => c.committedSeq === null)) notes.push('the gateway did not answer GET /v1/chains/{name} after the attack');
  if (r.attack.gateway.scrapesAnswered < 3) {
    notes.push(
      `the gateway answered ${r.attack.gateway.scrapesAnswered} of 3 /metrics scrapes under attack within ${SCRAPE_TIMEOUT_MS / 1000} s: its loop delay and refusals there are unknown`,
    );
  }
  if (r.durability.gatewayExit !== '0') {
    notes.push(
      `the gateway did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM (${r.durability.gatewayExit}): what it had accepted and not sealed by then is not in the store`,
    );
  }
  if (r.latecomer?.outcome === 'accepted' && !r.latecomer.committed)
    notes.push(`the latecomer's committed notice did not come within ${PROBE_TIMEOUT_MS / 1000} s`);
  const saturated = attackResults.some((a) => a !== null && (a.cpu >= 0.9 || a.elu >= 0.9));
  if (saturated) notes.push('an attack process was saturated (≥ 90 % of a core or of its event loop): the attack was as strong as the client could make it');
  for (const [name, p] of [
    ['alone', r.alone],
    ['under attack', r.attack],
  ] as const)
    for (const n of p.load.notes) notes.push(`bystanders ${name}: ${n}`);
  return notes;
}

// ---- the report

const sentAccepted = (load: LoadResult): string => {
  const light = load.classes.light;
  return `${fmtInt(light.framesSent)} / ${fmtInt(light.framesPerSec * load.durationS)}`;
};
const ratio = (of: number | null, to: number | null): number | null => (of === null || to === null || to === 0 ? null : of / to);
const perSec = (n: number | null): string => (n === null ? 'n/a' : fmtInt(n));
const errorsOf = (errors: Record<string, number>): string => {
  const list = Object.entries(errors).sort((p, q) => q[1] - p[1]);
  return list.length === 0 ? 'none' : list.map(([code, n]) => `${fmtInt(n)} ${code}`).join(', ');
};
const seconds = (s: number | null): string => (s === null ? 'n/a' : s === Infinity ? '> 5 s' : `≤ ${fmtUs(s * 1e6)}`);
const yesNo = (met: boolean | null): string => (met === null ? 'n/a' : met ? 'yes' : 'NO');

function rejectedLine(rejected: Record<string, number> | null): string {
  if (rejected === null) return 'n/a (no /metrics answer)';
  const list = Object.entries(rejected).sort((a, b) => b[1] - a[1]);
  return list.length === 0 ? 'none' : list.map(([code, n]) => `${code} ${fmtInt(n)}`).join(', ');
}

function reasonsLine(reasons: Record<string, number>): string {
  const list = Object.entries(reasons)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  return list.length === 0 ? '' : list.map(([why, n]) => `${fmtInt(n)} × ${why}`).join('; ');
}

export function formatHostile(r: HostileResult, warmupS: number): string {
  const s = r.shape;
  const head = [
    `hostile: ${fmtInt(s.perKind)} connections of each kind at once (${s.kinds.join(', ')}: ${fmtInt(attackConnections(s))} in all) from ${s.attackWorkers} processes${s.attackNice === 0 ? '' : ` at nice ${s.attackNice}`}` +
      `${s.attackCores === null ? '' : ` held to ${s.attackCores} of a core in all (cgroup)${s.attackPinned === null ? '' : ` on core ${s.attackPinned.join(',')}`}`}, ` +
      `against bystanders: 1 light chain × ${s.lightRate} single-entry frames/s, 1 flood chain over ${s.floodConnections} connections × ${s.inflight} frames of ${s.batch} entries in flight; ` +
      `${r.alone.load.durationS} s alone, ${r.control === null ? '' : `then ${r.control.load.durationS} s beside the control (a busy loop of the attack's CPU budget), `}then ${r.attack.load.durationS} s under attack, after ${warmupS} s warm-up each`,
    `gateway ${r.url}: ${Object.entries(r.config.limits)
      .map(([k, v]) => `limits.${k} ${v === null ? 'null' : k.endsWith('Bytes') ? fmtBytes(v) : fmtInt(v)}`)
      .join(', ')}`,
  ];
  const x = r.attack;
  const b = r.control ?? r.alone;
  const phases = [r.alone, ...(r.control === null ? [] : [r.control]), x];
  const rss = (p: ProcessMemory | null): string => (p === null ? 'n/a' : fmtBytes(p.rss));
  const turns = (p: Phase, f: (t: TurnsWindow) => string): string => (p.gateway.turns === null ? 'n/a' : f(p.gateway.turns));
  const row = (name: string, f: (p: Phase) => string, ratioOf = ''): string[] => [name, ...phases.map(f), ratioOf];
  const budgetUse = (p: Phase): string =>
    p.budgeted === null
      ? ''
      : `${p.budgeted.cores?.toFixed(2) ?? 'n/a'} (throttled in ${p.budgeted.throttledShare === null ? 'n/a' : `${Math.round(p.budgeted.throttledShare * 100)} %`} of periods)`;
  const rows = [
    [
      'bystanders and gateway',
      'alone',
      ...(r.control === null ? [] : [`control: busy loop, ${s.attackCores} core`]),
      'under attack',
      `ratio to ${r.control === null ? 'alone' : 'control'}`,
    ],
    row('light frames sent / accepted', (p) => sentAccepted(p.load)),
    row('light p50 send → accepted', (p) => fmtUs(p.lightP50Us), fmtRatio(r.ratios.lightP50)),
    row('light p99 send → accepted', (p) => fmtUs(p.lightP99Us), fmtRatio(r.ratios.lightP99)),
    row('light p99 send → committed', (p) => fmtUs(p.load.classes.light.committed?.p99)),
    row('flood entries/s accepted', (p) => fmtInt(p.floodEntriesPerSec), fmtRatio(r.ratios.floodEntriesPerSec)),
    row('flood p99 send → accepted', (p) => fmtUs(p.load.classes.heavy.accepted?.p99)),
    row('bystander frames refused', (p) => errorsOf(p.load.errors)),
    row(
      'gateway entries committed/s',
      (p) => perSec(p.gateway.entriesCommittedPerSec),
      fmtRatio(ratio(x.gateway.entriesCommittedPerSec, b.gateway.entriesCommittedPerSec)),
    ),
    row('gateway peak RSS (VmRSS)', (p) => rss(p.gateway.peakRss)),
    row('gateway cores busy', (p) => p.gateway.coresBusy?.toFixed(2) ?? 'n/a'),
    ...(s.attackCores === null ? [] : [row('cgroup cores used (budget)', budgetUse)]),
    row('front door: share of time busy, CPU cores', (p) => turns(p, (t) => `${Math.round(t.busyShare * 100)} %, ${t.cpuCores.toFixed(2)}`)),
    row(`front door: turns > ${LONG_TURN_S * 1000} ms / all`, (p) => turns(p, (t) => `${fmtInt(t.long)} / ${fmtInt(t.turns)}`)),
    row('front door: longest turn', (p) => turns(p, turnBucket)),
    row('front door loop delay p50', (p) => seconds(p.gateway.loopDelayP50S)),
    row('front door loop delay p99', (p) => seconds(p.gateway.loopDelayP99S)),
    row('WebSocket connections midway', (p) => perSec(p.gateway.connectionsMidway)),
  ];
  const turnLine = (t: LoggedTurn): string =>
    `    ${t.busyMs.toFixed(1)} ms busy, ${t.cpuMs.toFixed(1)} ms CPU: ${
      Object.entries(t.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${fmtInt(n)} ${k}`)
        .join(', ') || 'no callback counted'
    }` + (t.trace === undefined ? '' : `\n      ${formatTrace(t.trace)}`);
  const worstLines = [
    ...(x.gateway.turns?.worst.length
      ? ['  the longest turns under attack, as the gateway logged them (what uWS handed to JavaScript in each):', ...x.gateway.turns.worst.map(turnLine)]
      : []),
    ...(x.gateway.turns?.worstCpu.length ? ['  the turns under attack that used the most CPU:', ...x.gateway.turns.worstCpu.map(turnLine)] : []),
  ];
  const targets = [['target', 'measured', 'goal', 'met?'], ...r.targets.map((t) => [t.name, t.measured, t.goal, yesNo(t.met)])];
  const kinds = [
    ['attack', 'held', 'open at go', 'opened', 'failed', 'closed by gateway', 'open at end', 'frames sent', 'MB sent', 'how the gateway closed them (top 3)'],
  ];
  for (const k of r.kinds) {
    kinds.push([
      k.kind,
      fmtInt(k.slots),
      fmtInt(k.openAtStart),
      fmtInt(k.opened),
      fmtInt(k.failed),
      fmtInt(k.closedByGateway),
      fmtInt(k.openAtEnd),
      fmtInt(k.framesSent),
      (k.bytesSent / 1e6).toFixed(1),
      reasonsLine(k.closeReasons),
    ]);
  }
  const peak = r.memory.peak;
  const d = r.durability;
  const count = (n: number | null): string => (n === null ? 'n/a' : fmtInt(n));
  const durabilityRows = [
    ['tenant chain', 'accepted', 'committed notices', 'gateway nextSeq', 'committedSeq', 'in the store after exit'],
    ...d.chains.map((c) => [c.role, fmtInt(c.accepted), fmtInt(c.notified), count(c.nextSeq), count(c.committedSeq), count(c.stored)]),
  ];
  const lines = [
    ...head,
    '',
    table(rows),
    '',
    table(kinds),
    '',
    `  kinds: ${r.kinds.map((k) => `${k.kind} = ${KIND_DESCRIPTIONS[k.kind]}`).join('; ')}`,
    `  attack processes: ${r.attackClients.map((c) => `${Math.round(c.cpu * 100)}% (loop ${Math.round(c.elu * 100)}%)`).join(', ')} of a core`,
    `  frames refused under attack: ${rejectedLine(x.gateway.rejected)}`,
    ...worstLines,
    `  latecomer (a new stream opened mid-attack, one entry): ${r.latecomer === null ? 'not run' : `${r.latecomer.outcome}${r.latecomer.acceptedUs === null ? '' : ` in ${fmtUs(r.latecomer.acceptedUs)}`} — ${r.latecomer.detail}`}`,
    `  memory: peak VmRSS ${peak === null ? 'n/a' : `${fmtBytes(peak.rss)} (anon ${fmtBytes(peak.anon)}, file ${fmtBytes(peak.file)}, shmem ${fmtBytes(peak.shmem)}), VmHWM ${fmtBytes(peak.peakRss)}`}` +
      ` of a ${fmtBytes(r.budgetBytes)} budget (${r.memory.samples} samples every ${MEMORY_SAMPLE_MS} ms)`,
    '',
    table(durabilityRows),
    `  gateway exit after SIGTERM: ${d.gatewayExit}; ${d.verify.output.replace(/ in \/\S+$/, '')}`,
    '',
    table(targets),
    ...r.notes.map((n) => `  note: ${n}`),
  ];
  return lines.join('\n');
}
