// `--cost`: the gateway's cost as instructions per entry, by thread, for a
// fixed workload (cost-workload.ts), so a change can be judged on a machine
// too busy for wall-clock numbers. Two counters:
//
// - `perf stat --per-thread -e instructions` on the running gateway, where the
//   machine exposes hardware counters;
// - valgrind's callgrind where it does not (a VM usually): the gateway runs on
//   valgrind's synthetic CPU, which counts every instruction it executes, the
//   same count however busy the machine is. It is ~50× slower, so the gateway
//   starts uninstrumented (--instr-atstart=no), a first pass of the workload
//   warms it (JIT, pools, pages), and only the second pass is counted
//   (`instrumentation on`, `zero`, the workload, `dump`, through vgdb). Its
//   threads are mapped to their names by vgdb's `v.info scheduler` (valgrind's
//   thread ids to the kernel's) and /proc/PID/task/TID/comm.
//
// - `--counter heap`: not instructions but the bytes each thread allocates on
//   V8's heap (heap-probe.cts, loaded into every thread), the garbage its
//   collector must then clear: allocations per frame on the hot path.
//
// What the count cannot show: time waiting (disk, locks, a core), cache misses
// and page clears weigh the same as any instruction (callgrind has no cycles),
// and the kernel's work is not counted at all (callgrind counts user space).
// Work that runs by the clock (timers, the block interval) is slowed with the
// gateway, so it is counted on a stretched run: the block interval is set so
// that the count, not the clock, cuts the blocks (COST_BLOCK_INTERVAL_MS).
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { THREAD_GROUPS, threadGroup, type ThreadGroup } from '../src/native/index.js';
import { WorkloadDrive, costWorkload, workloadEntries, type CostWorkload, type WorkloadRun } from './cost-workload.js';
import type { Counter, TargetName } from './options.js';
import type { Plan } from './plan.js';
import { provisionCredits } from './credits-setup.js';
import { startTarget, type RunningTarget } from './targets.js';
import { fmtInt, fmtRatio, table } from './report.js';
import type { HeapProbeTally } from './heap-probe.cjs';
import { DEFAULT_CONFIG } from '../src/config/index.js';

const run = promisify(execFile);

/** What each counter counts, as the report names it. */
const COUNTED: Record<Counter, { unit: string; by: string }> = {
  perf: { unit: 'instructions', by: 'perf (user space)' },
  callgrind: { unit: 'instructions', by: 'callgrind (user space)' },
  heap: { unit: 'bytes allocated', by: "V8's heap (heap-probe.cts in every thread)" },
};

export interface CostSettings {
  /** Frames each heavy connection sends in the counted pass (light chains scale with it). */
  frames: number;
  batch: number;
  entrySize: number;
  inflight: number;
  /** Whole measurements, each a fresh gateway: their spread is the measure's own noise. */
  runs: number;
  /** null: perf where the machine counts instructions, else callgrind; heap: bytes allocated instead. */
  counter: Counter | null;
  verbose: boolean;
  /** Keep callgrind's dump files (for callgrind_annotate), or the heap probe's tallies, here instead of deleting them. */
  keepDir: string | undefined;
  /** The gateway's block interval; undefined: COST_BLOCK_INTERVAL_MS under callgrind, else the gateway's own. */
  blockIntervalMs: number | undefined;
}

export interface ThreadCount {
  /** The kernel's name of the thread (cl-frontdoor, cl-lane-heavy, …; "node" for lmdb's, libuv's and V8's). */
  name: string;
  group: ThreadGroup;
  /** What the counter counts (COUNTED): instructions, or bytes allocated on V8's heap. */
  count: number;
  /** Of them, in the functions of each kind (callgrind only). */
  kinds: Record<CostKind, number> | null;
  /** Heap only: a thread of the gateway's own the probe could not count (it never returns to its event loop). */
  uncounted?: true;
  /** V8's collections in the span by kind, and their time on the thread (heap only). */
  collections?: Record<string, number>;
  collectionMicros?: number;
}

export interface CostRun {
  target: string;
  counter: Counter;
  workload: WorkloadRun;
  threads: ThreadCount[];
  /** Instructions per entry by thread group, and `all`. */
  perEntry: Record<ThreadGroup | 'all', number>;
  /** Of them, per entry in each kind of function, by thread group (callgrind only). */
  kinds: Record<CostKind, Record<ThreadGroup | 'all', number>> | null;
  /** Instructions per second of the same gateway idle just before (callgrind only): what runs by the clock, counted in the pass too. */
  idle: Record<ThreadGroup | 'all', number> | null;
}

/** A valgrind client gets ~128 GiB of address space; lmdb's map must fit in it (src/ledger/tables.ts). */
const VALGRIND_MAP_BYTES = 2 ** 34;
/** Under valgrind the gateway starts in minutes, not seconds. */
const VALGRIND_START_MS = 15 * 60_000;
const WORKLOAD_TIMEOUT_MS = 60 * 60_000;
/** What perf counts: user-space instructions, as callgrind does. */
const PERF_EVENT = 'instructions:u';
/** Seconds of the warm gateway idle, counted, to show what runs by the clock. */
const IDLE_S = 10;
/**
 * Blocks are cut by their size (ledger.maxBlockEntries) and sealed when the
 * clock ticks; slowed 50×, the default 500 ms tick would seal 50× smaller
 * blocks than at full speed. One tick a minute: the counted pass is sealed in
 * about as many seals as its entries take at full speed (a seal per ~0.5 M).
 * Each uncounted pass waits for a tick, so a quick run (the test's) sets a
 * shorter one with --block-interval.
 */
const COST_BLOCK_INTERVAL_MS = 60_000;
/** At full speed (perf, heap) the gateway's own tick. */
const DEFAULT_BLOCK_INTERVAL_MS = DEFAULT_CONFIG.ledger.blockIntervalMs;

/** Whether `perf stat` can count instructions here (a VM's guest usually cannot). */
export function perfCountsInstructions(): boolean {
  // perf stat writes its counts to stderr; -x, makes them one line: "count,unit,event,…", or "<not supported>,…".
  const probe = spawnSync('perf', ['stat', '-x', ',', '-e', 'instructions:u', 'true'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return false;
  return /^\d+,[^,]*,instructions/m.test(probe.stderr);
}

function valgrindAvailable(): boolean {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function chooseCounter(wanted: Counter | null): Counter {
  if (wanted === 'heap') return 'heap';
  if (wanted === 'perf' || (wanted === null && perfCountsInstructions())) {
    if (!perfCountsInstructions()) throw new Error('perf stat cannot count instructions on this machine (no hardware counters); use --counter callgrind');
    return 'perf';
  }
  if (!valgrindAvailable()) throw new Error('neither hardware counters (perf stat) nor valgrind are available: install valgrind (apt-get install valgrind)');
  return 'callgrind';
}

/** valgrind's thread ids to the kernel's, from `v.info scheduler` ("Thread 3: status = … (lwpid 1234)"). */
export function parseScheduler(text: string): Map<number, number> {
  const lwps = new Map<number, number>();
  for (const m of text.matchAll(/^Thread (\d+):.*\(lwpid (\d+)\)/gm)) {
    const lwp = Number(m[2]);
    if (lwp > 0) lwps.set(Number(m[1]), lwp);
  }
  return lwps;
}

/** The instructions of one callgrind dump file (`totals:`, else `summary:`) and its valgrind thread id. */
export function parseCallgrindDump(text: string): { thread: number; instructions: number } {
  const thread = Number(/^thread: (\d+)$/m.exec(text)?.[1] ?? 1);
  const totals = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
  if (totals === null) throw new Error('a callgrind dump without totals');
  return { thread, instructions: Number(totals[1]) };
}

/**
 * Where instructions go inside the gateway's work, by function (callgrind's self cost):
 * the SHA-256 compression function (the hashing floor; under valgrind it runs
 * without SHA-NI, which valgrind does not emulate, so it weighs more than on
 * the machine itself), memory copies, V8's garbage collector (what allocation
 * costs: scavenges, marking, sweeping, on the thread that allocates and on V8's
 * helpers) and V8's optimizing compiler (code still being compiled: the part of
 * a count that warm-up has not settled). The first pattern a function matches wins.
 */
export const COST_KINDS = {
  sha256: /sha256_block_data_order/,
  copies: /mem(?:cpy|move)/,
  gc: /v8::internal::[^(]*(?:Scaveng|Marking|MarkCompact|Sweep|Evacuat|Compactor|RememberedSet|MemoryChunk|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|LargeObjectSpace|Heap::)|heap::base::|cppgc::/,
  jit: /v8::internal::(?:compiler|maglev|baseline)::|v8::internal::(?:Pipeline|Compiler|OptimizingCompileDispatcher)\b/,
} as const;
export type CostKind = keyof typeof COST_KINDS;

/** Self cost of the functions each COST_KINDS pattern names, in one callgrind dump file. */
export function selfCostByKind(text: string): Record<CostKind, number> {
  const out = Object.fromEntries(Object.keys(COST_KINDS).map((k) => [k, 0])) as Record<CostKind, number>;
  const names = new Map<string, string>();
  let kind: CostKind | null = null;
  let callLine = false;
  const nameOf = (value: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(value);
    if (m === null) return value;
    if (m[2] !== undefined) names.set(m[1]!, m[2]);
    return names.get(m[1]!) ?? '';
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) {
      const name = nameOf(line.slice(3));
      kind = (Object.keys(COST_KINDS) as CostKind[]).find((k) => COST_KINDS[k].test(name)) ?? null;
      callLine = false;
    } else if (line.startsWith('cfn=')) {
      nameOf(line.slice(4));
    } else if (line.startsWith('calls=')) {
      // The next cost line is the call's inclusive cost, not this function's own.
      callLine = true;
    } else if (/^[+\-*0-9]/.test(line)) {
      if (callLine) callLine = false;
      else if (kind !== null) out[kind] += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return out;
}

/** Per-thread counts of `perf stat --per-thread -x,` ("comm-tid,count,unit,event,…"). */
export function parsePerfPerThread(text: string, event: string): { name: string; tid: number; count: number }[] {
  const out: { name: string; tid: number; count: number }[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(',');
    if (fields.length < 4 || !fields.some((f) => f === event || f.startsWith(`${event}:`))) continue;
    const m = /^(.*)-(\d+)$/.exec(fields[0]!.trim());
    const count = Number(fields[1]);
    if (m === null || !Number.isFinite(count)) continue;
    out.push({ name: m[1]!, tid: Number(m[2]), count });
  }
  return out;
}

function threadName(pid: number, tid: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
  } catch {
    return 'exited';
  }
}

function perEntry(threads: readonly ThreadCount[], entries: number, count: (t: ThreadCount) => number = (t) => t.count): Record<ThreadGroup | 'all', number> {
  const out = Object.fromEntries([...THREAD_GROUPS, 'all'].map((g) => [g, 0])) as Record<ThreadGroup | 'all', number>;
  for (const t of threads) {
    out[t.group] += count(t) / entries;
    out.all += count(t) / entries;
  }
  return out;
}

function kindsPerEntry(threads: readonly ThreadCount[], entries: number): Record<CostKind, Record<ThreadGroup | 'all', number>> | null {
  if (threads.some((t) => t.kinds === null)) return null;
  const kinds = Object.keys(COST_KINDS) as CostKind[];
  return Object.fromEntries(kinds.map((k) => [k, perEntry(threads, entries, (t) => t.kinds![k])])) as Record<CostKind, Record<ThreadGroup | 'all', number>>;
}

async function vgdb(pid: number, command: string): Promise<string> {
  const { stdout, stderr } = await run('vgdb', [`--pid=${pid}`, ...command.split(' ')], { timeout: 300_000, maxBuffer: 16 * 2 ** 20 });
  return stdout + stderr;
}

/** Pins the plan's heavy chains to the heavy lane, so where a chain is hashed does not depend on how fast it went. */
async function pinHeavy(target: RunningTarget, plan: Plan): Promise<void> {
  const base = target.url.replace(/^ws/, 'http');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.adminKey !== undefined) headers.authorization = `Bearer ${target.adminKey}`;
  for (const chain of plan.chains.filter((c) => c.cls === 'heavy')) {
    const res = await fetch(`${base}/v1/chains/${encodeURIComponent(chain.name)}/lane`, { method: 'PUT', headers, body: JSON.stringify({ lane: 'heavy' }) });
    if (!res.ok) throw new Error(`pinning ${chain.name} to the heavy lane: ${res.status} ${await res.text()}`);
  }
}

/** The whole workload, accepted and committed (by the gateway's next cut). */
async function drive(url: string, workload: CostWorkload, keys: Record<string, string>): Promise<WorkloadRun> {
  const d = new WorkloadDrive(url, workload, keys, WORKLOAD_TIMEOUT_MS);
  const done = await d.accepted;
  await d.committed;
  return done;
}

/**
 * Uncounted passes of the workload before the counted one: chains created,
 * code compiled, pools and pages warm, seals done. One pass left V8's
 * optimizing compiler still busy in the counted pass (functions hot only after
 * more calls): with two, what runs in the counted pass is what runs for good.
 */
const WARM_PASSES = 2;

async function warm(target: RunningTarget, plan: Plan, workload: CostWorkload, keys: Record<string, string>, log: (line: string) => void): Promise<void> {
  log(`${target.name}: warming up (${WARM_PASSES} × ${fmtInt(workloadEntries(workload))} entries, uncounted; each commit waits for the next block interval)…`);
  // Chains exist once provisioned (credits on) or written (open mode): pin after a first frame each.
  const first: CostWorkload = { ...workload, connections: plan.chains.map((c) => ({ chain: c.name, frames: 1, window: 1 })) };
  await drive(target.url, first, keys);
  await pinHeavy(target, plan);
  for (let pass = 0; pass < WARM_PASSES; pass++) await drive(target.url, workload, keys);
}

/** How one counter starts the gateway and counts a span of its life. */
interface Counting {
  readonly counter: Counter;
  /** Options for startTarget. */
  readonly start: { wrapper?: string[]; env?: Record<string, string>; startTimeoutMs?: number; stopGraceMs?: number };
  /** After the warm pass: ready to count (the gateway is started with counting off). */
  prepare(pid: number): Promise<void>;
  /** The gateway idle for IDLE_S seconds, counted; null when the counter does not measure it. */
  idle(pid: number): Promise<ThreadCount[] | null>;
  begin(pid: number): Promise<void>;
  /** Called while every thread still lives, before the shutdown that seals the last blocks. */
  names(pid: number): Promise<void>;
  end(pid: number): Promise<ThreadCount[]>;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** valgrind's callgrind: the gateway runs uninstrumented until `prepare`, then each span is a zero and a dump. */
async function callgrindCounting(keepDir: string | undefined): Promise<Counting> {
  const dir = keepDir ?? (await mkdtemp(join(tmpdir(), 'chainlanes-cost-')));
  await mkdir(dir, { recursive: true });
  let dumps = 0;
  let names = new Map<number, string>();
  let gateway: number | undefined;
  const dump = async (pid: number): Promise<ThreadCount[]> => {
    await vgdb(pid, 'dump');
    return readDump(dir, pid, ++dumps, names);
  };
  // Kept dumps come with node's map of its JIT code, to name the JavaScript in them (jit-names.ts).
  const env: Record<string, string> = { CHAINLANES_MAP_BYTES: String(VALGRIND_MAP_BYTES) };
  if (keepDir !== undefined) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --perf-basic-prof`.trim();
  return {
    counter: 'callgrind',
    start: {
      wrapper: ['valgrind', '--tool=callgrind', '--separate-threads=yes', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'cg.%p')}`],
      env,
      startTimeoutMs: VALGRIND_START_MS,
      stopGraceMs: 600_000,
    },
    prepare: async (pid) => {
      gateway = pid;
      await vgdb(pid, 'instrumentation on');
    },
    idle: async (pid) => {
      names = await threadNames(pid);
      await vgdb(pid, 'zero');
      await sleep(IDLE_S * 1000);
      return dump(pid);
    },
    begin: async (pid) => void (await vgdb(pid, 'zero')),
    names: async (pid) => {
      names = await threadNames(pid);
    },
    end: dump,
    close: async () => {
      if (keepDir === undefined) await rm(dir, { recursive: true, force: true });
      else if (gateway !== undefined) await keepPerfMap(gateway, dir);
    },
  };
}

/** Where V8 writes a process's perf map under --perf-basic-prof, whatever TMPDIR says. */
const PERF_MAP_DIR = '/tmp';

/** Moves node's perf-PID.map into `dir`, if it was written. */
async function keepPerfMap(pid: number, dir: string): Promise<void> {
  const map = join(PERF_MAP_DIR, `perf-${pid}.map`);
  try {
    await copyFile(map, join(dir, `perf-${pid}.map`));
    await rm(map, { force: true });
  } catch {
    // No map (a node without --perf-basic-prof): the dumps are kept without names for JIT code.
  }
}

/** `perf stat --per-thread` attached for the span; the threads' names are perf's own (comm). */
async function perfCounting(event: string): Promise<Counting> {
  const dir = await mkdtemp(join(tmpdir(), 'chainlanes-cost-'));
  const out = join(dir, 'perf.csv');
  let perf: ChildProcess | undefined;
  return {
    counter: 'perf',
    start: {},
    prepare: async () => undefined,
    idle: async () => null,
    begin: async (pid) => {
      perf = spawn('perf', ['stat', '--per-thread', '-x', ',', '-e', event, '-p', String(pid), '-o', out], { stdio: 'ignore' });
      // perf attaches to every thread before it counts; give it that moment.
      await sleep(500);
    },
    names: async () => undefined,
    end: async () => {
      const exited = new Promise<void>((resolve) => perf!.once('exit', () => resolve()));
      perf!.kill('SIGINT');
      await exited;
      const counts = parsePerfPerThread(await readFile(out, 'utf8'), event.split(':')[0]!);
      return counts.filter((c) => c.count > 0).map((c) => ({ name: c.name, group: threadGroup(c.name), count: c.count, kinds: null }));
    },
    close: async () => {
      perf?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The probe's tally files (PID-THREADID.json), by file name. */
async function readTallies(dir: string): Promise<Map<string, HeapProbeTally>> {
  const tallies = new Map<string, HeapProbeTally>();
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.json')) continue;
    try {
      tallies.set(file, JSON.parse(await readFile(join(dir, file), 'utf8')) as HeapProbeTally);
    } catch {
      // Read while its thread rewrote it: the thread's next tally is a few ms away.
    }
  }
  return tallies;
}

/** Long enough for every running thread to write its tally (heap-probe.cts writes every 20 ms). */
const HEAP_TALLY_WAIT_MS = 200;

/** heap-probe.cts in every thread of the gateway; a span is the difference of each thread's totals. */
async function heapCounting(keepDir: string | undefined): Promise<Counting> {
  const dir = keepDir ?? (await mkdtemp(join(tmpdir(), 'chainlanes-heap-')));
  await mkdir(dir, { recursive: true });
  const probe = fileURLToPath(new URL('./heap-probe.cjs', import.meta.url));
  let before = new Map<string, HeapProbeTally>();
  let named: string[] = [];
  return {
    counter: 'heap',
    start: { env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${probe}`.trim(), CHAINLANES_HEAP_PROBE_DIR: dir } },
    prepare: async () => undefined,
    idle: async () => null,
    begin: async () => {
      await sleep(HEAP_TALLY_WAIT_MS);
      before = await readTallies(dir);
    },
    names: async (pid) => {
      named = (await readdir(`/proc/${pid}/task`)).map((tid) => threadName(pid, Number(tid))).filter((name) => threadGroup(name) !== 'other');
    },
    end: async () => {
      await sleep(HEAP_TALLY_WAIT_MS);
      const threads: ThreadCount[] = [];
      const tallies = await readTallies(dir);
      const tallied = new Set([...tallies.values()].map((t) => t.name));
      // The lanes' piscina workers wait for tasks in Atomics.wait, never in their event loop, so the probe's timer never runs there.
      for (const name of new Set(named)) {
        if (!tallied.has(name)) threads.push({ name, group: threadGroup(name), count: 0, kinds: null, uncounted: true });
      }
      for (const [file, after] of tallies) {
        const first = before.get(file);
        const count = after.allocatedBytes - (first?.allocatedBytes ?? 0);
        const collections = Object.fromEntries(Object.entries(after.collections).map(([kind, n]) => [kind, n - (first?.collections[kind] ?? 0)]));
        const collectionMicros = after.collectionMicros - (first?.collectionMicros ?? 0);
        if (count > 0) threads.push({ name: after.name, group: threadGroup(after.name), count, kinds: null, collections, collectionMicros });
      }
      return threads.sort((a, b) => b.count - a.count);
    },
    close: async () => {
      if (keepDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One measurement on a fresh gateway: started (uncounted), warmed by a first
 * pass, idle for IDLE_S seconds (counted apart), then the counted pass. Its
 * last blocks are sealed by a SIGTERM as soon as every frame is accepted: the
 * shutdown cuts and seals at once, where the block interval would leave the
 * gateway idle (and counting its clock) until the next tick. Counting stops
 * when the last `committed` arrives, before the rest of the shutdown.
 */
async function measure(
  name: TargetName,
  plan: Plan,
  workload: CostWorkload,
  s: CostSettings,
  counting: Counting,
  log: (line: string) => void,
): Promise<CostRun> {
  log(`${name}: starting${counting.counter === 'callgrind' ? ' under callgrind' : ''}…`);
  const target = await startTarget(name, {
    verbose: s.verbose,
    config: { ledger: { blockIntervalMs: s.blockIntervalMs ?? (counting.counter === 'callgrind' ? COST_BLOCK_INTERVAL_MS : DEFAULT_BLOCK_INTERVAL_MS) } },
    ...counting.start,
  });
  try {
    const keys = await provisionCredits(
      target,
      plan.chains.map((c) => c.name),
    );
    await warm(target, plan, workload, keys, log);
    await counting.prepare(target.pid);
    if (counting.counter === 'callgrind') log(`${name}: idle for ${IDLE_S} s…`);
    const idle = await counting.idle(target.pid);
    log(`${name}: counting ${fmtInt(workloadEntries(workload))} entries…`);
    await counting.begin(target.pid);
    const d = new WorkloadDrive(target.url, workload, keys, WORKLOAD_TIMEOUT_MS);
    const done = await d.accepted;
    await counting.names(target.pid);
    process.kill(target.pid, 'SIGTERM');
    await d.committed;
    const threads = await counting.end(target.pid);
    return {
      target: name,
      counter: counting.counter,
      workload: done,
      threads,
      perEntry: perEntry(threads, done.entries),
      kinds: kindsPerEntry(threads, done.entries),
      idle: idle === null ? null : perEntry(idle, IDLE_S),
    };
  } finally {
    await target.stop();
    await counting.close();
  }
}

/** Each live valgrind thread's kernel name, through vgdb's `v.info scheduler` and /proc. */
async function threadNames(pid: number): Promise<Map<number, string>> {
  const lwps = parseScheduler(await vgdb(pid, 'v.info scheduler'));
  return new Map([...lwps].map(([thread, lwp]) => [thread, threadName(pid, lwp)]));
}

/** Dump `part` (vgdb's `dump` commands count from 1): one file per valgrind thread, `cg.PID.PART-NN`. */
async function readDump(dir: string, pid: number, part: number, names: Map<number, string>): Promise<ThreadCount[]> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(`cg.${pid}.${part}-`));
  if (files.length === 0) throw new Error(`callgrind wrote no dump ${part} in ${dir}`);
  const threads: ThreadCount[] = [];
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    const { thread, instructions } = parseCallgrindDump(text);
    if (instructions === 0) continue;
    const name = names.get(thread) ?? 'exited';
    threads.push({ name, group: threadGroup(name), count: instructions, kinds: selfCostByKind(text) });
  }
  return threads.sort((a, b) => b.count - a.count);
}

function countingBy(counter: Counter, keepDir: string | undefined): Promise<Counting> {
  if (counter === 'callgrind') return callgrindCounting(keepDir);
  if (counter === 'heap') return heapCounting(keepDir);
  return perfCounting(PERF_EVENT);
}

export async function runCost(targets: readonly TargetName[], plan: Plan, s: CostSettings, log: (line: string) => void): Promise<CostRun[]> {
  const counter = chooseCounter(s.counter);
  const gateways = targets.filter((t) => t === 'chainlanes' || t === 'chainlanes-open');
  if (gateways.length === 0) throw new Error('--cost measures chainlanes or chainlanes-open');
  const workload = costWorkload(plan, s.frames, s.batch, s.entrySize, s.inflight);
  const runs: CostRun[] = [];
  for (let r = 0; r < s.runs; r++) {
    for (const name of gateways) {
      const counting = await countingBy(counter, s.keepDir);
      const measured = await measure(name, plan, workload, s, counting, log);
      log(`${name}: ${fmtInt(measured.perEntry.all)} ${COUNTED[counter].unit} per entry`);
      runs.push(measured);
    }
  }
  return runs;
}

/** " (Scavenge 3, MarkSweepCompact 1: 4.2 ms)": a thread's collections in the span and their time, when counted. */
function collectionsText(t: ThreadCount): string {
  const kinds = Object.entries(t.collections ?? {}).filter(([, n]) => n > 0);
  if (kinds.length === 0) return '';
  return ` (${kinds.map(([kind, n]) => `${kind} ${n}`).join(', ')}: ${((t.collectionMicros ?? 0) / 1000).toFixed(1)} ms)`;
}

const KIND_TITLES: Record<CostKind, string> = {
  sha256: 'SHA-256 (sha256_block_data_order*: the floor of hashing; without SHA-NI under valgrind)',
  copies: 'memory copies (memcpy, memmove)',
  gc: "V8's garbage collector (scavenges, marking, sweeping): what allocation costs",
  jit: "V8's optimizing compiler (code compiled during the counted pass)",
};

/** Instructions per entry by thread group, one column per run, and each run against the first of its target. */
export function formatCost(runs: readonly CostRun[], workload: CostWorkload): string {
  if (runs.length === 0) return 'no run measured';
  const groups = [...THREAD_GROUPS, 'all'] as const;
  const shown = groups.filter((g) => g === 'all' || runs.some((r) => r.perEntry[g] >= 1));
  const label = (r: CostRun, i: number): string => `${r.target} #${i + 1}`;
  const counted = COUNTED[runs[0]!.counter];
  const perEntryTitle = `${counted.unit} per entry`;
  const rows = shown.map((g) => [g === 'all' ? 'ALL' : g, ...runs.map((r) => fmtInt(r.perEntry[g]))]);
  const firsts = new Map<string, CostRun>();
  for (const r of runs) if (!firsts.has(r.target)) firsts.set(r.target, r);
  const repeat = runs.map((r) => fmtRatio(r.perEntry.all / firsts.get(r.target)!.perEntry.all));
  if (runs.every((r) => r.kinds !== null)) {
    rows.push(["ALL but V8's compiler", ...runs.map((r) => fmtInt(r.perEntry.all - r.kinds!.jit.all))]);
  }
  const lines = [
    `${counted.unit} counted by ${counted.by}, per entry accepted and committed; workload: ${fmtInt(workloadEntries(workload))} entries ` +
      `(${workload.connections.length} connections, ${workload.batch} × ${workload.entrySize} B frames), counted after ${WARM_PASSES} uncounted passes`,
    '',
    table([[perEntryTitle, ...runs.map(label)], ...rows, ['÷ the first run of its target', ...repeat]]),
  ];
  for (const kind of Object.keys(COST_KINDS) as CostKind[]) {
    if (runs.some((r) => r.kinds === null)) break;
    const of = shown.map((g) => [g === 'all' ? 'ALL' : g, ...runs.map((r) => fmtInt(r.kinds![kind][g]))]);
    lines.push('', `of which in ${KIND_TITLES[kind]}:`, '', table([[perEntryTitle, ...runs.map(label)], ...of]));
  }
  if (runs.some((r) => r.idle !== null)) {
    const idle = shown.map((g) => [g === 'all' ? 'ALL' : g, ...runs.map((r) => (r.idle === null ? 'n/a' : fmtInt(r.idle[g])))]);
    const share = runs.map((r) => (r.idle === null ? 'n/a' : fmtInt((r.idle.all * r.workload.elapsedMs) / 1000 / r.workload.entries)));
    lines.push(
      '',
      `the same gateway idle for ${IDLE_S} s before the pass (what runs by the clock, counted in the pass as well):`,
      '',
      table([[`${counted.unit} per second`, ...runs.map(label)], ...idle, ["× the pass's seconds, per entry", ...share]]),
    );
  }
  lines.push(
    '',
    table([
      ['run', 'busy refusals', 'seconds of the pass'],
      ...runs.map((r, i) => [label(r, i), fmtInt(r.workload.busy), (r.workload.elapsedMs / 1000).toFixed(1)]),
    ]),
  );
  const byName = runs.map(
    (r, i) =>
      `${label(r, i)}: ` +
      r.threads
        .map((t) => (t.uncounted === true ? `${t.name} not counted` : `${t.name} ${fmtInt(t.count / r.workload.entries)}${collectionsText(t)}`))
        .join(', '),
  );
  return [...lines, '', `by thread (${perEntryTitle}):`, ...byName.map((l) => `  ${l}`)].join('\n');
}
