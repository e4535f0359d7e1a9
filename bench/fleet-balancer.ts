// The fleet balancer beyond this machine, by simulation (issue #21 "Numbers"):
// 64 gateways × 100,000 chains with Zipf rates and a flash crowd, one
// simulated hour, the real FleetBalancer (src/fleet/balancer.ts) deciding
// every 5 s on load reports built as gateways build them (placed demand and
// the 32 busiest chains). The same run without the balancer is the baseline.
// Reported: moves per hour, the worst gateway's load against the headroom,
// gateway-seconds over the headroom, and the time each decision takes.
//
// Model (each choice is a flag):
// - capacity: 300,000 entries/s and 600 MB/s per gateway, ±25 % between
//   machines (a mixed fleet); load = entries/E + bytes/B, as the lanes count it;
// - chain i's rate ∝ 1/i^zipf, scaled so the fleet carries --utilisation of its
//   capacity, each chain clipped at --clip of one gateway (a chain lives on one
//   gateway: a larger one cannot be served by any); entry sizes 64 B … 4 KiB;
// - rates drift (log random walk, mean-reverting), every tick;
// - chains start where HAProxy's consistent hashing puts unmapped chains
//   (uniform by name);
// - a flash crowd: from minute 20 to 35, chains of 3 gateways (one tenant's)
//   grow until each of those gateways gets +45 % of its capacity;
// - a move commits one tick after it is decided (a handoff), and the reports
//   see it at the next tick.
// Run: npm run build && node dist/bench/fleet-balancer.js [--gateways 64] [--chains 100000] [--minutes 60] [--json]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_FLEET_BALANCER, FleetBalancer, LOAD_REPORT_CHAINS, type FleetBalancerSettings, type GatewayLoad } from '../src/fleet/index.js';

export interface SimOptions {
  gateways: number;
  chains: number;
  minutes: number;
  zipf: number;
  utilisation: number;
  clip: number;
  seed: number;
  tickMs: number;
  balancer: FleetBalancerSettings;
  balance: boolean;
}

export interface SimResult {
  balance: boolean;
  moves: number;
  movesPerHour: number;
  failedToFit: number;
  /** The worst gateway's load at each tick: quantiles over the run. */
  worstLoad: { p50: number; p99: number; max: number };
  /** Sum over ticks of the gateways over the headroom × the tick: how much overload the fleet lived with. */
  gatewaySecondsOverHeadroom: number;
  /** Over the headroom at the end of the flash crowd's first 5 minutes / at the end of the run. */
  overAtCrowdPlus5: number;
  overAtEnd: number;
  /** From the flash crowd's start to the first tick with no gateway over the headroom (null: not within the run). */
  crowdReliefSeconds: number | null;
  decisionMicros: { p50: number; p99: number; max: number };
  ticks: number;
}

/** mulberry32: the same fleet for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function quantile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const ENTRY_SIZES = [64, 256, 1024, 4096];

export function simulate(o: SimOptions): SimResult {
  const random = prng(o.seed);
  const G = o.gateways;
  const N = o.chains;
  const capE = new Float64Array(G);
  const capB = new Float64Array(G);
  for (let g = 0; g < G; g++) {
    const f = 0.75 + 0.5 * random();
    capE[g] = 300_000 * f;
    capB[g] = 600e6 * f;
  }
  const meanCap = { e: capE.reduce((s, x) => s + x, 0) / G, b: capB.reduce((s, x) => s + x, 0) / G };
  // Base rates: Zipf by rank, entry size per chain, scaled to the utilisation, clipped at --clip of an average gateway.
  const size = new Float64Array(N);
  const weight = new Float64Array(N);
  let unitLoad = 0;
  for (let i = 0; i < N; i++) {
    size[i] = ENTRY_SIZES[Math.floor(random() * ENTRY_SIZES.length)]!;
    weight[i] = 1 / (i + 1) ** o.zipf;
    unitLoad += weight[i]! * (1 / meanCap.e + size[i]! / meanCap.b);
  }
  const fleetLoad = o.utilisation * G;
  const base = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const perEntry = 1 / meanCap.e + size[i]! / meanCap.b;
    base[i] = Math.min((weight[i]! * fleetLoad) / unitLoad, o.clip / perEntry);
  }
  const names = Array.from({ length: N }, (_, i) => `chain-${i}`);
  const owner = new Int32Array(N);
  for (let i = 0; i < N; i++) owner[i] = Math.floor(random() * G);
  const drift = new Float64Array(N); // log multiplier, mean-reverting
  const crowd = new Float64Array(N).fill(1);
  const rate = new Float64Array(N);

  const tickS = o.tickMs / 1000;
  const ticks = Math.round((o.minutes * 60_000) / o.tickMs);
  const crowdStart = Math.round((20 * 60_000) / o.tickMs);
  const crowdEnd = Math.round((35 * 60_000) / o.tickMs);
  const crowdGateways = [0, 1, 2].map(() => Math.floor(random() * G));
  const balancer = new FleetBalancer(o.balancer);
  const pending: { chain: number; to: number; at: number }[] = [];
  const worst: number[] = [];
  const decisionMicros: number[] = [];
  let moves = 0;
  let failedToFit = 0;
  let overSeconds = 0;
  let overAtCrowdPlus5 = 0;
  let overAtEnd = 0;
  let crowdReliefSeconds: number | null = null;
  const demandE = new Float64Array(G);
  const demandB = new Float64Array(G);
  const tops: number[][] = Array.from({ length: G }, () => []);

  for (let t = 0; t < ticks; t++) {
    const now = t * o.tickMs;
    // Commit the handoffs decided a tick ago.
    while (pending.length > 0 && pending[0]!.at <= t) {
      const p = pending.shift()!;
      owner[p.chain] = p.to;
    }
    if (t === crowdStart) {
      // One tenant's chains on three gateways: each of those gateways gains 45 % of its capacity, spread over its chains 100…400 by rank.
      for (const g of crowdGateways) {
        const members: number[] = [];
        for (let i = 100; i < N && members.length < 300; i++) if (owner[i] === g) members.push(i);
        let added = 0;
        for (const i of members) added += base[i]! * (1 / capE[g]! + size[i]! / capB[g]!);
        const factor = 1 + 0.45 / Math.max(added, 1e-9);
        for (const i of members) crowd[i] = factor;
      }
    }
    if (t === crowdEnd) crowd.fill(1);
    demandE.fill(0);
    demandB.fill(0);
    for (let i = 0; i < N; i++) {
      drift[i] = 0.95 * drift[i]! + 0.05 * gaussian(random);
      const r = base[i]! * Math.exp(0.3 * drift[i]!) * crowd[i]!;
      rate[i] = r;
      demandE[owner[i]!]! += r;
      demandB[owner[i]!]! += r * size[i]!;
    }
    // Load reports: demand and the 32 busiest chains of each gateway.
    for (let g = 0; g < G; g++) tops[g]!.length = 0;
    for (let i = 0; i < N; i++) {
      const top = tops[owner[i]!]!;
      if (top.length < LOAD_REPORT_CHAINS) {
        top.push(i);
        if (top.length === LOAD_REPORT_CHAINS) top.sort((a, b) => rate[b]! - rate[a]!);
      } else if (rate[i]! > rate[top[LOAD_REPORT_CHAINS - 1]!]!) {
        let k = LOAD_REPORT_CHAINS - 1;
        while (k > 0 && rate[top[k - 1]!]! < rate[i]!) {
          top[k] = top[k - 1]!;
          k--;
        }
        top[k] = i;
      }
    }
    const reports: GatewayLoad[] = [];
    let worstNow = 0;
    let over = 0;
    for (let g = 0; g < G; g++) {
      const top = tops[g]!.sort((a, b) => rate[b]! - rate[a]!);
      const load = demandE[g]! / capE[g]! + demandB[g]! / capB[g]!;
      worstNow = Math.max(worstNow, load);
      if (load > o.balancer.headroom) over++;
      reports.push({
        id: `g${g}`,
        capacity: { entriesPerSec: capE[g]!, bytesPerSec: capB[g]! },
        demand: { entriesPerSec: demandE[g]!, bytesPerSec: demandB[g]! },
        reportedAt: now,
        top: top.map((i) => ({ name: names[i]!, entriesPerSec: rate[i]!, bytesPerSec: rate[i]! * size[i]! })),
      });
    }
    worst.push(worstNow);
    overSeconds += over * tickS;
    if (t === crowdStart + Math.round(300_000 / o.tickMs)) overAtCrowdPlus5 = over;
    if (t === ticks - 1) overAtEnd = over;
    if (t >= crowdStart && crowdReliefSeconds === null && over === 0) crowdReliefSeconds = (t - crowdStart) * tickS;
    if (!o.balance || pending.length > 0) continue;
    const started = performance.now();
    const decision = balancer.decide(reports, now);
    decisionMicros.push((performance.now() - started) * 1000);
    if (decision.kind === 'overloaded') failedToFit++;
    if (decision.kind !== 'move') continue;
    const chain = Number(decision.move.chain.slice('chain-'.length));
    pending.push({ chain, to: Number(decision.move.to.slice(1)), at: t + 1 });
    balancer.moved(decision.move, now + o.tickMs);
    moves++;
  }
  worst.sort((a, b) => a - b);
  decisionMicros.sort((a, b) => a - b);
  return {
    balance: o.balance,
    moves,
    movesPerHour: moves / (o.minutes / 60),
    failedToFit,
    worstLoad: { p50: quantile(worst, 0.5), p99: quantile(worst, 0.99), max: worst.at(-1) ?? 0 },
    gatewaySecondsOverHeadroom: overSeconds,
    overAtCrowdPlus5,
    overAtEnd,
    crowdReliefSeconds,
    decisionMicros: { p50: quantile(decisionMicros, 0.5), p99: quantile(decisionMicros, 0.99), max: decisionMicros.at(-1) ?? 0 },
    ticks,
  };
}

function format(o: SimOptions, results: SimResult[]): string {
  const f = (n: number, d = 2): string => n.toFixed(d);
  const lines = [
    `fleet balancer simulation: ${o.gateways} gateways × ${o.chains} chains, zipf ${o.zipf}, utilisation ${o.utilisation}, chains clipped at ${o.clip} of a gateway, ` +
      `${o.minutes} min in ${o.tickMs / 1000} s ticks, flash crowd minutes 20–35 on 3 gateways (+45 % each), seed ${o.seed}`,
    `balancer: headroom ${o.balancer.headroom}, overloaded for ${o.balancer.overloadedForMs / 1000} s, chain cool-down ${o.balancer.chainCooldownMs / 60_000} min, ` +
      `gateway cool-down ${o.balancer.gatewayCooldownMs / 1000} s, at most ${o.balancer.maxMovesPerHour} moves/h`,
    '',
    '| balancer | moves/h | worst load p50 / p99 / max | gateway-s over headroom | flash crowd relieved after | over at crowd+5 min / at end | "overloaded, nothing fits" | decision µs p50 / p99 / max |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.balance ? 'on' : 'off'} | ${f(r.movesPerHour, 0)} | ${f(r.worstLoad.p50)} / ${f(r.worstLoad.p99)} / ${f(r.worstLoad.max)} | ${f(r.gatewaySecondsOverHeadroom, 0)} | ` +
        `${r.crowdReliefSeconds === null ? 'not in the run' : `${r.crowdReliefSeconds} s`} | ${r.overAtCrowdPlus5} / ${r.overAtEnd} | ${r.balance ? r.failedToFit : '–'} | ${r.balance ? `${f(r.decisionMicros.p50, 0)} / ${f(r.decisionMicros.p99, 0)} / ${f(r.decisionMicros.max, 0)}` : '–'} |`,
    );
  }
  const [on, off] = [results.find((r) => r.balance), results.find((r) => !r.balance)];
  if (on !== undefined && off !== undefined && off.gatewaySecondsOverHeadroom > 0) {
    lines.push('', `gateway-seconds over the headroom, on ÷ off: ${f(on.gatewaySecondsOverHeadroom / off.gatewaySecondsOverHeadroom, 3)}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateways: { type: 'string', default: '64' },
      chains: { type: 'string', default: '100000' },
      minutes: { type: 'string', default: '60' },
      zipf: { type: 'string', default: '1.0' },
      utilisation: { type: 'string', default: '0.55' },
      clip: { type: 'string', default: '0.5' },
      seed: { type: 'string', default: '21' },
      json: { type: 'boolean', default: false },
    },
  });
  const o: SimOptions = {
    gateways: Number(values.gateways),
    chains: Number(values.chains),
    minutes: Number(values.minutes),
    zipf: Number(values.zipf),
    utilisation: Number(values.utilisation),
    clip: Number(values.clip),
    seed: Number(values.seed),
    tickMs: DEFAULT_FLEET_BALANCER.everyMs,
    balancer: DEFAULT_FLEET_BALANCER,
    balance: true,
  };
  const started = performance.now();
  const results = [simulate(o), simulate({ ...o, balance: false })];
  if (values.json) process.stdout.write(JSON.stringify({ options: o, results }, null, 2) + '\n');
  else process.stdout.write(format(o, results) + `\n(simulated in ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
