// Command-line flags of `npm run bench` (node dist/bench/run.js).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ATTACK_KINDS, type AttackKind } from './hostile-protocol.js';

/** `chainlanes` runs authenticated (credits on); `chainlanes-open` is the same gateway in open mode (credits off). */
export type TargetName = 'chainlanes' | 'chainlanes-open' | 'ws-gateway' | 'uws-echo';
export const TARGETS: readonly TargetName[] = ['chainlanes', 'chainlanes-open', 'ws-gateway', 'uws-echo'];
/** What --cost counts (cost.ts): instructions by perf or callgrind, or bytes allocated on V8's heap. */
export const COUNTERS = ['perf', 'callgrind', 'heap'] as const;
export type Counter = (typeof COUNTERS)[number];
const isCounter = (name: string): name is Counter => (COUNTERS as readonly string[]).includes(name);

export interface BenchOptions {
  mode: 'load' | 'compare' | 'isolation' | 'floods' | 'credits' | 'heads' | 'hostile' | 'quiet' | 'limits' | 'wrong-keys' | 'micro' | 'cost';
  /** Targets started by the bench, in run order (ignored with --url). */
  targets: TargetName[];
  url: string | undefined;
  pid: number | undefined;
  /** With --url: the gateway's admin key, to provision the load's chains with credits on. */
  adminKey: string | undefined;
  json: boolean;
  verbose: boolean;
  chart: string | undefined;
  durationS: number;
  warmupS: number;
  connections: number;
  chains: number;
  batch: number;
  entrySize: number;
  inflight: number;
  zipf: number;
  lightRate: number;
  workers: number;
  /** --scenario credits: rounds of credits on and off, alternating which goes first. */
  rounds: number;
  /** The load (and --compare) this many times, targets in rotating order; each row's median and range. */
  runs: number;
  /** hostile: the kinds of hostile connection to open. */
  kinds: AttackKind[];
  /** hostile: limits.frontDoorTurnBudgetMs for the gateway (null: no address is barred; undefined: its default). */
  turnBudgetMs: number | null | undefined;
  /** The chainlanes gateway's scheduler.frontDoorRealtimePriority (null: an ordinary thread). */
  frontDoorRealtime: number | null;
  /** hostile: the attack processes' nice value. */
  attackNice: number;
  /** hostile: cores' worth of CPU the attack may use (a cgroup), with a control phase of a busy loop as much; null: no budget. */
  attackCpu: number | null;
  /** hostile, with attackCpu: the cores the attack (and the control) may run on; null: any. */
  attackCores: number[] | null;
  /** Write the chainlanes gateway's CPU profiles (node --cpu-prof, one per thread) here. */
  profileDir: string | undefined;
  /** Flags for the chainlanes gateway's node, e.g. --single-threaded-gc (V8 refuses most of them at run time). */
  gatewayNodeFlags: string[];
  /** hostile: trace the front door's long turns with perf (bench/turn-trace.ts) into this directory. */
  traceTurnsDir: string | undefined;
  /** --cost: frames each heavy connection sends in the counted pass. */
  frames: number;
  /** --cost: what is counted and how; null: instructions, by perf where the machine can, else by callgrind. */
  counter: Counter | null;
  /** --cost: the gateway's block interval (ms); undefined: the harness's own (cost.ts). */
  blockIntervalMs: number | undefined;
}

export const USAGE = `chainlanes bench — node dist/bench/run.js [flags]   (npm run bench -- [flags])

what to run (default: the Zipf load against chainlanes)
  --compare             the same load against chainlanes (credits on), chainlanes-open (credits off),
                        ws-gateway and uws-echo, with ratios
  --scenario isolation  light chains alone, then under one flooding chain (chainlanes and ws-gateway)
  --scenario floods     20 light chains alone, then under two flooding chains: each light chain's p99
                        ratio and the floods' split (chainlanes-open with fair shares on and off, ws-gateway)
  --scenario credits    the Zipf load on chainlanes with credits on and off, --rounds times each,
                        alternating which runs first: what the credit check costs
  --scenario heads      the Zipf load on chainlanes-open with signed heads on and off, --rounds times each,
                        alternating which runs first; the bytes of a consistency proof for a log of 10^6
                        directory blocks; chainlanes monitor's CPU per checked head
  --scenario hostile    a light and a flooding bystander alone, then under 1,000 hostile connections of each
                        kind (chainlanes only): latency and throughput ratios, gateway RSS, nothing lost
  --scenario quiet      an unloaded gateway: 4 light chains × 200 single-entry frames/s, against every
                        target, --runs times (default 3): latency to accepted beside the bare uWS echo
  --scenario limits     a gateway holding its limit of connections: how fast a stream and a request past
                        it are refused, and /healthz answered, against /healthz below it (chainlanes-open)
  --scenario wrong-keys a paying client's round trips alone, then as long beside a flood of requests with
                        wrong keys (chainlanes, credits on): the flooded ÷ alone latency ratios
  --micro               the micro-benchmarks in bench/micro/
  --cost                instructions per entry by thread (front door, lanes, sealer, …) for a fixed workload
                        (the --compare chains, --frames per heavy connection), counted by perf where the
                        machine has counters, else by valgrind's callgrind: the same count on a busy machine;
                        chainlanes (credits on) unless --target chainlanes-open; --runs N measures N times
  --frames N            --cost: frames per heavy connection in the counted pass (default 200)
  --counter perf|callgrind|heap   --cost: how to count (default: perf if it can count instructions here);
                        heap: bytes allocated on V8's heap per entry, by thread, instead of instructions
  --block-interval MS   --cost: the gateway's block interval (default: its own; under callgrind 60000, blocks cut by
                        size as at full speed; a shorter one makes a quick run that seals smaller blocks)
  --target NAME         load one target: chainlanes | chainlanes-open | ws-gateway | uws-echo
  --url ws://HOST:PORT  load a gateway that is already running instead of starting one
  --pid N               with --url: the gateway's process id, to charge its CPU
  --admin-key KEY       with --url: the gateway's admin key; the load's chains are created, priced
                        and funded first (credits on), as for a gateway the bench starts

load shape
  --duration S          measured seconds per run (default 10; per phase in isolation, 15 in hostile)
  --quick               3 s runs with a short warm-up (5 s phases in hostile)
  --warmup S            unmeasured seconds before each run (default 1)
  --chains N            chains (default 16; light chains in isolation, default 8)
  --connections N       connections in all (default 24; flood connections in isolation, default 4;
                        connections of each hostile kind in hostile, default 1000)
  --batch N             entries per frame (default 64)
  --entry-size BYTES    bytes per entry (default 200)
  --inflight N          frames in flight per full-speed connection (default 16)
  --zipf S              Zipf exponent of the chains' rates (default 1.0; 0 = all equal)
  --light-rate FPS      frames/s of the busiest light chain (default 200)
  --workers N           load-client processes (default 2, up to 4 on bigger machines)
  --rounds N            rounds of --scenario credits and heads (default 3)
  --runs N              the load (or --compare) N times, the targets' order rotating; prints each
                        row's median and range and flags saturated runs (default 1)
  --workers N           load-client processes (default 2, up to 4 on bigger machines; attack processes in hostile, default 3)
  --kinds LIST          hostile: comma-separated, of ${ATTACK_KINDS.join(', ')} (default all)
  --turn-budget MS|off  hostile: the gateway's limits.frontDoorTurnBudgetMs (off: never bar an address; default: the gateway's)
  --front-door-rt P     the chainlanes gateway's scheduler.frontDoorRealtimePriority (the front door under SCHED_RR at
                        priority P, 1..99; root)
  --attack-nice N       hostile: run the attack processes (and the control's busy loop) at nice N (-20..19, default 0; below
                        0 needs root): above 0 stands for an attacker on other machines when the attack has no
                        budget; below 0, with --attack-cpu, puts it ahead of the gateway's ordinary threads (beside
                        a real-time front door it still used 0.37-0.40 of a 0.5 budget: history/2026-12-07.md)
  --attack-cpu F        hostile: hold the attack processes together to F of a core (a cgroup v1 cpu quota; root), as an
                        attacker on other machines with that much CPU, and add a control phase: a busy loop held to
                        the same budget in the same cgroup. The attack is judged against the control
  --attack-cores LIST   hostile, with --attack-cpu: keep the attack and the control on these cores (a cpuset), e.g. 1 on
                        two cores: the front door's core 0 is then not the one the attack's own work runs on
  --trace-turns DIR     hostile: trace the front door's thread and the machine's context switches with perf (root) into
                        DIR, and say for each of the worst turns where its CPU went and what held its core while it
                        waited for one

output
  --json                one JSON object instead of tables
  --verbose             copy the targets' own output to stderr
  --chart FILE.svg      throughput and p99 latency over time
  --gateway-node-flags="F …"  flags for the chainlanes gateway's node, space-separated, after an = (a value starting
                        with a dash needs it): --gateway-node-flags=--single-threaded-gc
  --profile DIR         write the chainlanes gateway's CPU profiles (node --cpu-prof, one per thread) to DIR;
                        with --cost and callgrind: keep callgrind's dumps there (callgrind_annotate DIR/cg.PID.2-01),
                        with node's map of its JIT code (… | node dist/bench/jit-names.js DIR/perf-PID.map);
                        with --cost --counter heap: keep the threads' tallies there, and the front door's
                        allocation sites (DIR/frontdoor.heapprofile) when CHAINLANES_HEAP_PROBE_SAMPLE=1
  --help`;

function niceValue(value: string | undefined): number {
  const nice = num(value, 'attack-nice', 0, -20);
  if (nice > 19) throw new Error(`--attack-nice must be an integer from -20 to 19, got ${value}`);
  return nice;
}

function num(value: string | undefined, name: string, fallback: number, min: number, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${value}`);
  }
  return n;
}

function targetList(mode: BenchOptions['mode'], target: string | undefined): TargetName[] {
  if (target !== undefined) {
    if (!TARGETS.includes(target as TargetName)) throw new Error(`--target must be one of ${TARGETS.join(', ')}`);
    return [target as TargetName];
  }
  if (mode === 'compare') return [...TARGETS];
  if (mode === 'isolation') return ['chainlanes', 'ws-gateway'];
  if (mode === 'floods') return ['chainlanes-open', 'ws-gateway'];
  if (mode === 'credits') return ['chainlanes', 'chainlanes-open'];
  if (mode === 'heads') return ['chainlanes-open'];
  // chainlanes first: the ratios of medians are taken to the first target.
  if (mode === 'quiet') return ['chainlanes-open', 'chainlanes', 'ws-gateway', 'uws-echo'];
  if (mode === 'cost') return ['chainlanes'];
  if (mode === 'limits') return ['chainlanes-open'];
  if (mode === 'wrong-keys') return ['chainlanes'];
  return ['chainlanes'];
}

function coreList(value: string | undefined): number[] | null {
  if (value === undefined) return null;
  const cores = value.split(',').map((c) => Number(c.trim()));
  const count = availableParallelism();
  if (cores.length === 0 || cores.some((c) => !Number.isInteger(c) || c < 0 || c >= count)) {
    throw new Error(`--attack-cores must list cores of this ${count}-core machine (0 to ${count - 1}), comma-separated, got ${value}`);
  }
  return cores;
}

function kindList(value: string | undefined): AttackKind[] {
  if (value === undefined) return [...ATTACK_KINDS];
  const kinds = value
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  const unknown = kinds.filter((k) => !ATTACK_KINDS.includes(k as AttackKind));
  if (kinds.length === 0 || unknown.length > 0) throw new Error(`--kinds must list some of ${ATTACK_KINDS.join(', ')}, got ${value}`);
  return ATTACK_KINDS.filter((k) => kinds.includes(k));
}

/** Parsed flags, or the string 'help'. Throws with a readable message on bad flags. */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      compare: { type: 'boolean' },
      scenario: { type: 'string' },
      micro: { type: 'boolean' },
      cost: { type: 'boolean' },
      frames: { type: 'string' },
      counter: { type: 'string' },
      'block-interval': { type: 'string' },
      target: { type: 'string' },
      url: { type: 'string' },
      pid: { type: 'string' },
      'admin-key': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      chart: { type: 'string' },
      duration: { type: 'string' },
      quick: { type: 'boolean' },
      warmup: { type: 'string' },
      chains: { type: 'string' },
      connections: { type: 'string' },
      batch: { type: 'string' },
      'entry-size': { type: 'string' },
      inflight: { type: 'string' },
      zipf: { type: 'string' },
      'light-rate': { type: 'string' },
      workers: { type: 'string' },
      rounds: { type: 'string' },
      runs: { type: 'string' },
      kinds: { type: 'string' },
      'turn-budget': { type: 'string' },
      'front-door-rt': { type: 'string' },
      'attack-nice': { type: 'string' },
      'attack-cpu': { type: 'string' },
      'attack-cores': { type: 'string' },
      profile: { type: 'string' },
      'gateway-node-flags': { type: 'string' },
      'trace-turns': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help === true) return 'help';
  const scenarios = ['isolation', 'floods', 'credits', 'heads', 'hostile', 'quiet', 'limits', 'wrong-keys'] as const;
  if (v.scenario !== undefined && v.scenario !== 'load' && !scenarios.includes(v.scenario as (typeof scenarios)[number])) {
    throw new Error(`--scenario must be ${scenarios.join(', ')} or load, got ${v.scenario}`);
  }
  const scenario = scenarios.find((s) => s === v.scenario);
  const mode = v.micro === true ? 'micro' : v.cost === true ? 'cost' : (scenario ?? (v.compare === true ? 'compare' : 'load'));
  const cost = mode === 'cost';
  if (cost && v.url !== undefined) throw new Error('--cost starts its own gateway (under the counter): drop --url');
  if (!cost && (v.frames !== undefined || v.counter !== undefined || v['block-interval'] !== undefined))
    throw new Error('--frames, --counter and --block-interval apply to --cost only');
  if (v.counter !== undefined && !isCounter(v.counter)) throw new Error(`--counter must be ${COUNTERS.join(', ')}, got ${v.counter}`);
  if (v.url !== undefined && !/^wss?:\/\//.test(v.url)) throw new Error('--url must start with ws:// or wss://');
  const isolation = mode === 'isolation';
  const floods = mode === 'floods';
  const hostile = mode === 'hostile';
  const quiet = mode === 'quiet';
  // The hostile scenario sets the gateway's limits and verifies its store afterwards: it must start the gateway itself.
  if (hostile && v.url !== undefined) throw new Error('--scenario hostile starts its own gateway (its config and store are part of the test): drop --url');
  if (mode === 'limits' && v.url !== undefined) throw new Error('--scenario limits starts its own gateway (with small connection limits): drop --url');
  if (hostile && v.target !== undefined && v.target !== 'chainlanes') throw new Error('--scenario hostile runs against chainlanes only');
  if (!hostile && v.kinds !== undefined) throw new Error('--kinds applies to --scenario hostile only');
  if (!hostile && v['attack-cpu'] !== undefined) throw new Error('--attack-cpu applies to --scenario hostile only');
  if (!hostile && v['trace-turns'] !== undefined) throw new Error('--trace-turns applies to --scenario hostile only');
  if (v['attack-cores'] !== undefined && v['attack-cpu'] === undefined) throw new Error('--attack-cores applies with --attack-cpu only');
  if (v.runs !== undefined && mode !== 'load' && mode !== 'compare' && !quiet && !cost)
    throw new Error('--runs applies to the load, --compare, --cost and --scenario quiet only');
  return {
    mode,
    targets: targetList(mode, v.target),
    url: v.url,
    pid: v.pid === undefined ? undefined : num(v.pid, 'pid', 0, 1),
    adminKey: v['admin-key'],
    json: v.json === true,
    verbose: v.verbose === true,
    chart: v.chart,
    durationS: num(v.duration, 'duration', hostile ? (v.quick === true ? 5 : 15) : v.quick === true ? 3 : 10, 0.5, false),
    warmupS: num(v.warmup, 'warmup', v.quick === true ? 0.5 : 1, 0, false),
    chains: num(v.chains, 'chains', floods ? 20 : isolation ? 8 : quiet ? 4 : 16, 1),
    connections: num(v.connections, 'connections', hostile ? 1000 : isolation ? 4 : 24, 1),
    batch: num(v.batch, 'batch', 64, 1),
    entrySize: num(v['entry-size'], 'entry-size', 200, 0),
    inflight: num(v.inflight, 'inflight', 16, 1),
    zipf: num(v.zipf, 'zipf', 1, 0, false),
    lightRate: num(v['light-rate'], 'light-rate', floods ? 50 : 200, 1, false),
    workers: num(v.workers, 'workers', hostile ? 3 : Math.max(2, Math.min(4, Math.floor(availableParallelism() / 2))), 1),
    rounds: num(v.rounds, 'rounds', 3, 1),
    runs: num(v.runs, 'runs', quiet ? 3 : 1, 1),
    kinds: kindList(v.kinds),
    frontDoorRealtime: v['front-door-rt'] === undefined ? null : num(v['front-door-rt'], 'front-door-rt', 0, 1),
    attackNice: niceValue(v['attack-nice']),
    attackCpu: v['attack-cpu'] === undefined ? null : num(v['attack-cpu'], 'attack-cpu', 0, 0.01, false),
    attackCores: coreList(v['attack-cores']),
    turnBudgetMs: v['turn-budget'] === 'off' ? null : v['turn-budget'] === undefined ? undefined : num(v['turn-budget'], 'turn-budget', 0, 1),
    profileDir: v.profile,
    gatewayNodeFlags: (v['gateway-node-flags'] ?? '').split(' ').filter((flag) => flag !== ''),
    traceTurnsDir: v['trace-turns'],
    frames: num(v.frames, 'frames', 200, 1),
    counter: v.counter === undefined ? null : v.counter,
    blockIntervalMs: v['block-interval'] === undefined ? undefined : num(v['block-interval'], 'block-interval', 0, 1),
  };
}
