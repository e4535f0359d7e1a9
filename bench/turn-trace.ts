// The front door's long turns, traced from outside the gateway (issue #26): what
// its thread did on a CPU in each turn, and what ran in its place while it waited
// for one. The turn meter (src/defence/turn-meter.ts) says how long a turn was,
// how much of it was CPU, and what uWS handed to JavaScript; this says where the
// rest went, including what no JavaScript profiler sees (uWS's C++, the kernel's
// socket calls, V8's collector and compiler) and the time off the CPU.
//
//   npm run bench -- --scenario hostile --attack-cpu 0.5 --trace-turns DIR
//
// Two `perf record`s run beside the gateway, both timed by CLOCK_MONOTONIC (the
// clock the turn meter records each turn's end by, `monotonicMs`):
// - DIR/frontdoor.perf: the front door's thread sampled with its call stacks;
//   the gateway runs with --perf-basic-prof so V8 names its JIT'd functions
//   (in /tmp/perf-PID.map, moved into DIR after the analysis);
// - DIR/sched.perf: every context switch on the machine, so a turn's time off
//   the CPU splits into waiting for a core and blocking, and whoever held the
//   core meanwhile is named (by thread, from /proc snapshots: DIR/roles.json).
// Needs `perf` (Debian's linux-perf) and the right to trace the machine (root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Samples a second on the front door's thread (an odd rate, so it does not beat with 1 ms timers). */
const SAMPLE_HZ = 1999;
/** How often the threads on the machine are looked up by role while tracing. */
const ROLES_EVERY_MS = 2000;
/** Characters of perf record's stderr kept for an error message. */
const STDERR_KEPT = 2000;
/** How long `perf record` may take to write its file once told to stop. */
const PERF_STOP_MS = 30_000;

/** Where a turn's time went: CPU by part, and time off the CPU (ms). */
export interface TurnTrace {
  /** CPU time the samples saw in the turn, by part, largest first. */
  cpu: { part: string; ms: number }[];
  /** Off the CPU while runnable: waiting for a core. */
  waitingMs: number;
  /** Off the CPU while not runnable (sleeping on something other than the event loop's own wait, or in the disk). */
  blockedMs: number;
  /** What ran on the front door's core while it waited, by role, largest first. */
  ranInstead: { who: string; ms: number }[];
}

/** A turn as the gateway logged it: enough to place it on the trace's clock. */
export interface TracedTurnKey {
  monotonicMs?: number;
  busyMs: number;
}

/** Thread id → what it is (a gateway thread by name, the attack, the bystanders' clients…). */
type Roles = Record<string, string>;

/** Whether this machine can trace: `perf` on the PATH. */
export function perfMissing(): string | null {
  const probe = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? null : 'perf is not installed (Debian: apt-get install linux-perf)';
}

/** A trace being recorded: stop it when the measured phases are over. */
export class TurnTracer {
  private readonly dir: string;
  private readonly pid: number;
  private readonly recorders: ChildProcess[];
  /** The end of what each recorder said on stderr, for an error that names perf's own reason. */
  private readonly said = new Map<ChildProcess, string>();
  private readonly roles: Roles = {};
  private readonly rolesTimer: NodeJS.Timeout;
  private stopped: Promise<void> | null = null;

  constructor(dir: string, gatewayPid: number) {
    this.dir = dir;
    this.pid = gatewayPid;
    const record = (args: string[]): ChildProcess => {
      const child = spawn('perf', ['record', '-k', 'CLOCK_MONOTONIC', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      // Read, so perf never blocks on a full pipe; only the end is kept.
      child.stderr?.on('data', (chunk: Buffer) => this.said.set(child, ((this.said.get(child) ?? '') + chunk.toString()).slice(-STDERR_KEPT)));
      child.on('error', () => undefined);
      return child;
    };
    this.recorders = [
      record(['-F', String(SAMPLE_HZ), '-g', '-t', String(gatewayPid), '-o', join(dir, 'frontdoor.perf')]),
      record(['-e', 'sched:sched_switch', '-a', '-o', join(dir, 'sched.perf')]),
    ];
    this.lookUpRoles();
    this.rolesTimer = setInterval(() => this.lookUpRoles(), ROLES_EVERY_MS);
  }

  /** Stops both recordings (each writes its file on SIGINT) and keeps the roles seen; again: the same wait. */
  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    clearInterval(this.rolesTimer);
    this.lookUpRoles();
    await Promise.all(this.recorders.map(stopRecorder));
    writeFileSync(join(this.dir, 'roles.json'), JSON.stringify(this.roles));
  }

  /**
   * Where each of `turns` went. The JIT map V8 wrote for the gateway moves
   * into DIR afterwards (`perf script` looks for it in /tmp: copy it back to
   * read frontdoor.perf again).
   */
  analyse(turns: readonly TracedTurnKey[]): Map<TracedTurnKey, TurnTrace> {
    const jitMap = `/tmp/perf-${this.pid}.map`;
    const perfSaid = [...this.said.values()].join(' / ').trim();
    try {
      const samples = cpuSamples(perfScript(join(this.dir, 'frontdoor.perf'), ['-F', 'time,period,ip,sym,dso'], perfSaid));
      const switches = contextSwitches(perfScript(join(this.dir, 'sched.perf'), ['-F', 'cpu,time,event,trace'], perfSaid));
      return new Map(
        turns.flatMap((t) => (t.monotonicMs === undefined ? [] : [[t, traceTurn(t.monotonicMs, t.busyMs, samples, switches, this.pid, this.roles)]])),
      );
    } finally {
      if (existsSync(jitMap)) {
        copyFileSync(jitMap, join(this.dir, basename(jitMap)));
        rmSync(jitMap);
      }
    }
  }

  private lookUpRoles(): void {
    Object.assign(this.roles, threadRoles(this.pid));
  }
}

function stopRecorder(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), PERF_STOP_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGINT');
  });
}

function perfScript(file: string, fields: string[], perfSaid: string): string {
  if (!existsSync(file)) throw new Error(`${file} was not written (perf record: ${perfSaid === '' ? 'nothing said' : perfSaid})`);
  const out = spawnSync('perf', ['script', '-i', file, ...fields], { encoding: 'utf8', maxBuffer: 2 * 1024 ** 3 });
  if (out.status !== 0) throw new Error(`perf script -i ${file} failed: ${out.stderr.slice(0, 500)}`);
  return out.stdout;
}

/** What each thread on the machine is, by its process's command line (and, in the gateway, the thread's own name). */
export function threadRoles(gatewayPid: number): Roles {
  const roles: Roles = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline: string;
    let tids: string[];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      } catch {
        // gone meanwhile: named by its process alone
      }
      roles[tid] = roleOf(Number(pid) === gatewayPid, cmdline, comm);
    }
  }
  return roles;
}

export function roleOf(inGateway: boolean, cmdline: string, comm: string): string {
  // The gateway names its own threads cl-…; the rest are V8's platform workers (concurrent marking, compiling) and libuv's pool.
  if (inGateway) return comm.startsWith('cl-') ? `gateway ${comm}` : 'gateway V8/libuv helpers';
  if (cmdline.includes('hostile-worker')) return 'attack';
  if (cmdline.includes('busy-loop')) return 'control busy loop';
  if (cmdline.includes('load-worker')) return 'bystander clients';
  if (cmdline.includes('bench/run')) return 'bench runner';
  if (comm.startsWith('perf')) return 'perf';
  if (cmdline === '') return `kernel ${comm.replace(/\/\d+$/, '')}`;
  return comm;
}

/** One CPU sample: when (monotonic ms), the CPU time it stands for (ms), its stack innermost first. */
export interface CpuSample {
  atMs: number;
  ms: number;
  frames: { sym: string; dso: string }[];
}

const SAMPLE_HEAD = /^\s*(\d+\.\d+):\s+(\d+)\s*$/;
const FRAME = /^\s+[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/;

/** `perf script -F time,period,ip,sym,dso` of the front door's samples. */
export function cpuSamples(text: string): CpuSample[] {
  const samples: CpuSample[] = [];
  let current: CpuSample | null = null;
  for (const line of text.split('\n')) {
    const head = SAMPLE_HEAD.exec(line);
    if (head !== null) {
      current = { atMs: Number(head[1]) * 1000, ms: Number(head[2]) / 1e6, frames: [] };
      samples.push(current);
      continue;
    }
    const frame = FRAME.exec(line);
    if (frame !== null && current !== null) current.frames.push({ sym: frame[1]!, dso: frame[2]!.slice(frame[2]!.lastIndexOf('/') + 1) });
  }
  return samples;
}

/** One context switch: on which CPU, when (monotonic ms), who left and in what state, who came on. */
export interface ContextSwitch {
  cpu: number;
  atMs: number;
  prevTid: string;
  prevState: string;
  nextTid: string;
}

const SWITCH = /^\s*\[(\d+)\]\s+(\d+\.\d+):\s+sched:sched_switch:.*\sprev_pid=(\d+)\s.*prev_state=(\S+) ==> .*\snext_pid=(\d+)\s/;

/** `perf script -F cpu,time,event,trace` of sched:sched_switch, in time order. */
export function contextSwitches(text: string): ContextSwitch[] {
  const switches: ContextSwitch[] = [];
  for (const line of text.split('\n')) {
    const m = SWITCH.exec(line);
    if (m === null) continue;
    switches.push({ cpu: Number(m[1]), atMs: Number(m[2]) * 1000, prevTid: m[3]!, prevState: m[4]!, nextTid: m[5]! });
  }
  return switches;
}

const GC = /v8::internal::(Heap::|Scavenger|MarkCompact|MinorMarkCompact|IncrementalMarking|ConcurrentMarking|Sweeper|GCTracer|MemoryAllocator)/;
const COMPILE = /v8::internal::(Compiler::|Parser|interpreter::BytecodeGenerator|compiler::|maglev::|baseline::)|Builtins_CompileLazy/;
/** Kernel functions of a TCP segment's delivery: on loopback the receiver's side runs in the sender's system call. */
const LOOPBACK_DELIVERY = new Set(['process_backlog', '__netif_receive_skb', 'net_rx_action', 'ip_rcv', 'tcp_v4_rcv']);
const SYSCALL_PARTS: Record<string, string> = {
  recvfrom: 'socket reads',
  recvmsg: 'socket reads',
  read: 'socket reads',
  sendto: 'socket writes',
  sendmsg: 'socket writes',
  write: 'socket writes',
  writev: 'socket writes',
  accept4: 'accepting connections',
  shutdown: 'closing connections',
  close: 'closing connections',
  epoll_pwait: 'epoll',
  epoll_wait: 'epoll',
  epoll_ctl: 'epoll',
};
/** JavaScript frames of Node's own plumbing: a sample is put down to the first frame of ours (or a dependency's) inside them. */
const NODE_PLUMBING = /node:internal|node:timers|node:events/;

/** The part of the front door's work a sample belongs to. */
export function partOf(frames: readonly { sym: string; dso: string }[]): string {
  if (frames.some((f) => GC.test(f.sym))) return 'garbage collection';
  if (frames.some((f) => COMPILE.test(f.sym))) return 'compiling JavaScript';
  if (frames[0]?.dso === '[kernel.kallsyms]') return `kernel: ${kernelPart(frames)}`;
  const js = frames.filter((f) => f.sym.startsWith('JS:'));
  if (js.length > 0) {
    const ours = js.filter((f) => !NODE_PLUMBING.test(f.sym));
    return `JavaScript: ${jsLabel((ours.length > 0 ? ours : js).at(-1)!.sym)}`;
  }
  if (frames.some((f) => f.dso.startsWith('uws_'))) return 'uWS (no JavaScript)';
  return 'Node, V8 and libc (no JavaScript)';
}

function kernelPart(frames: readonly { sym: string }[]): string {
  if (frames.some((f) => LOOPBACK_DELIVERY.has(f.sym))) return "loopback delivery (the peer's TCP receive, run in this thread's send)";
  for (const f of frames) {
    const call = /^(?:__x64_sys_|__sys_)(\w+)$/.exec(f.sym);
    if (call !== null) return SYSCALL_PARTS[call[1]!] ?? call[1]!;
  }
  if (frames.some((f) => f.sym.includes('page_fault'))) return 'page faults';
  return 'other';
}

/** "JS:*message file:///…/dist/src/frontdoor/stream.js:235:16" → "message frontdoor/stream.js:235". */
function jsLabel(sym: string): string {
  const m = /^JS:[*^~+]?(\S*)\s+(\S+)$/.exec(sym);
  if (m === null) return sym.slice(3);
  const where = m[2]!.replace(/^.*\/(dist\/src|dist\/bench|node_modules)\//, '').replace(/:\d+$/, '');
  return `${m[1] === '' ? '(anonymous)' : m[1]} ${where}`;
}

/** Where the turn that ended at `endMs` (monotonic) after `busyMs` went. */
export function traceTurn(
  endMs: number,
  busyMs: number,
  samples: readonly CpuSample[],
  switches: readonly ContextSwitch[],
  tid: number,
  roles: Roles,
): TurnTrace {
  const startMs = endMs - busyMs;
  const cpu = new Map<string, number>();
  for (const s of samples) if (s.atMs >= startMs && s.atMs <= endMs) add(cpu, partOf(s.frames), s.ms);
  const off = offCpu(startMs, endMs, switches, String(tid), roles);
  return {
    cpu: largestFirst(cpu).map(([part, ms]) => ({ part, ms })),
    waitingMs: off.waitingMs,
    blockedMs: off.blockedMs,
    ranInstead: largestFirst(off.ranInstead).map(([who, ms]) => ({ who, ms })),
  };
}

/** The turn's time off the CPU: waiting for a core (and who held it, by role) or blocked. */
function offCpu(
  startMs: number,
  endMs: number,
  switches: readonly ContextSwitch[],
  tid: string,
  roles: Roles,
): { waitingMs: number; blockedMs: number; ranInstead: Map<string, number> } {
  const ranInstead = new Map<string, number>();
  let waitingMs = 0;
  let blockedMs = 0;
  let left: ContextSwitch | null = null;
  for (const s of switches) {
    if (s.atMs > endMs && left === null) break;
    if (s.prevTid === tid) left = s;
    if (s.nextTid !== tid || left === null) continue;
    const from = Math.max(left.atMs, startMs);
    const until = Math.min(s.atMs, endMs);
    if (until > from) {
      // "R" or "R+": preempted while runnable; anything else: it slept or blocked.
      if (left.prevState.startsWith('R')) {
        waitingMs += until - from;
        for (const [who, ms] of whoRan(left.cpu, from, until, switches, roles)) add(ranInstead, who, ms);
      } else {
        blockedMs += until - from;
      }
    }
    left = null;
  }
  return { waitingMs, blockedMs, ranInstead };
}

/** Who held `cpu` between `from` and `until`: the threads switched onto it, each for its share of the span. */
function whoRan(cpu: number, from: number, until: number, switches: readonly ContextSwitch[], roles: Roles): Map<string, number> {
  const ran = new Map<string, number>();
  let on: ContextSwitch | null = null;
  for (const s of switches) {
    if (s.cpu !== cpu) continue;
    if (on !== null) {
      const ms = Math.min(s.atMs, until) - Math.max(on.atMs, from);
      if (ms > 0) add(ran, roles[on.nextTid] ?? `thread ${on.nextTid}`, ms);
    }
    if (s.atMs >= until) break;
    on = s;
  }
  return ran;
}

function add(map: Map<string, number>, key: string, ms: number): void {
  map.set(key, (map.get(key) ?? 0) + ms);
}

/** The map's entries, the largest value first. */
function largestFirst(map: Map<string, number>): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * "sampled CPU 9.0 ms: JavaScript: message frontdoor/stream.js:235 4.5, kernel: socket reads 2.0, …;
 * waited 31.0 ms for a core (on it meanwhile: attack 18.0, …); blocked 1.0 ms".
 */
export function formatTrace(t: TurnTrace, parts = 5): string {
  const cpuMs = t.cpu.reduce((n, p) => n + p.ms, 0);
  const cpu = t.cpu
    .slice(0, parts)
    .map((p) => `${p.part} ${p.ms.toFixed(1)}`)
    .join(', ');
  const ran = t.ranInstead
    .slice(0, parts)
    .map((r) => `${r.who} ${r.ms.toFixed(1)}`)
    .join(', ');
  const waited = t.waitingMs > 0 ? `; waited ${t.waitingMs.toFixed(1)} ms for a core (on it meanwhile: ${ran})` : '';
  const blocked = t.blockedMs > 0 ? `; blocked ${t.blockedMs.toFixed(1)} ms` : '';
  return `sampled CPU ${cpuMs.toFixed(1)} ms: ${cpu === '' ? 'no sample' : cpu}${waited}${blocked}`;
}
