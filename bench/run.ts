// `npm run bench` entry: parses flags, starts each target in turn (or uses
// --url), runs the same load against each, and prints tables or one JSON object.
// Progress goes to stderr so that `--json` leaves stdout a single JSON document.
import { writeFileSync } from 'node:fs';
import { renderChart, type ChartSeries, type ChartText } from './chart.js';
import { cpuGroupsUnavailable } from './cgroup.js';
import { formatHostile, runHostile, type HostileResult } from './hostile.js';
import { formatIsolation, runIsolation, type IsolationResult } from './isolation.js';
import { LIMITS_CONFIG, formatLimits, runLimits, type LimitsResult } from './limits.js';
import { WRONG_KEYS_CHAIN, formatWrongKeys, runWrongKeys } from './wrong-keys.js';
import { formatFloods, runFloods, type FloodsResult, type FloodsShape } from './floods.js';
import { runLoad, type LoadResult, type LoadTarget } from './load.js';
import { formatMicro, runMicro, type MicroSuite } from './micro.js';
import { parseOptions, USAGE, type BenchOptions, type TargetName } from './options.js';
import { chainPrefix, floodsPlan, isolationPlan, zipfPlan, type IsolationShape, type Plan } from './plan.js';
import { machineInfo } from './proc.js';
import { describePlan, fmtBytes, fmtRatio, formatCompare, formatCredits, formatLoad, ratios, summarizeCredits, table, type Ratios } from './report.js';
import { committedBytesPerSec, measureDisk } from './disk.js';
import { isGateway, startTarget, unavailable } from './targets.js';
import { formatRuns, summarizeRuns, type RunRecord } from './runs.js';
import { provisionCredits } from './credits-setup.js';
import { HEADS_VARIANTS, consistencyProofSizes, formatHeads, monitorCost, summarizeHeads } from './heads.js';
import { formatCost, runCost } from './cost.js';
import { costWorkload } from './cost-workload.js';

const log = (line: string): void => void process.stderr.write(line + '\n');

interface Skipped {
  target: string;
  reason: string;
}

/**
 * Runs `fn` against each target: the --url gateway, or each named target started
 * fresh and stopped afterwards, one at a time so they never compete for cores.
 * A gateway started with credits on gets `chains` provisioned first.
 */
async function eachTarget<T>(o: BenchOptions, chains: readonly string[], fn: (t: LoadTarget) => Promise<T>, skipped: Skipped[]): Promise<T[]> {
  if (o.url !== undefined) {
    const keys = await provisionCredits({ url: o.url, adminKey: o.adminKey }, chains);
    return [await fn({ name: new URL(o.url).host, url: o.url, pid: o.pid, keys })];
  }
  const out: T[] = [];
  for (const name of o.targets) {
    const result = await withStarted(name, o, chains, fn).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      log(`${name}: skipped — ${reason}`);
      skipped.push({ target: name, reason });
      return undefined;
    });
    if (result !== undefined) out.push(result);
  }
  return out;
}

/** Node flags for a target: CPU profiles of chainlanes when --profile is given. */
function nodeFlags(name: TargetName, o: BenchOptions): string[] {
  if (!isGateway(name)) return [];
  return [...o.gatewayNodeFlags, ...(o.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', o.profileDir])];
}

/** A chainlanes target's config with --front-door-rt's scheduler.frontDoorRealtimePriority added (a config given here sets no scheduler). */
function withRealtime(name: TargetName, o: BenchOptions, config: object | undefined): object | undefined {
  if (!isGateway(name) || o.frontDoorRealtime === null) return config;
  return { ...config, scheduler: { frontDoorRealtimePriority: o.frontDoorRealtime } };
}

async function withStarted<T>(name: TargetName, o: BenchOptions, chains: readonly string[], fn: (t: LoadTarget) => Promise<T>, config?: object): Promise<T> {
  const missing = unavailable(name);
  if (missing !== undefined) throw new Error(missing);
  log(`${name}: starting…`);
  const target = await startTarget(name, { verbose: o.verbose, nodeFlags: nodeFlags(name, o), config: withRealtime(name, o, config) });
  try {
    const keys = await provisionCredits(target, chains);
    const credits = target.adminKey === undefined ? 'credits off' : `credits on: ${chains.length} chains priced, one writer account each`;
    log(`${name}: listening at ${target.url} (pid ${target.pid}, ${credits}); running`);
    return await fn({ ...target, keys });
  } finally {
    await target.stop();
  }
}

/** Every target against the straightforward gateway, and chainlanes against its upper bound. */
function compareRatios(results: readonly LoadResult[]): Ratios[] {
  const by = (name: string): LoadResult | undefined => results.find((r) => r.target === name);
  const pairs: [string, string][] = [
    // What the credit check costs: the same gateway with credits on and off, in the same run.
    ['chainlanes', 'chainlanes-open'],
    ['chainlanes', 'ws-gateway'],
    ['uws-echo', 'ws-gateway'],
    ['chainlanes', 'uws-echo'],
  ];
  return pairs.flatMap(([a, b]) => {
    const ra = by(a);
    const rb = by(b);
    return ra !== undefined && rb !== undefined ? [ratios(ra, rb)] : [];
  });
}

function settingsOf(o: BenchOptions): Record<string, unknown> {
  const { mode: _mode, json: _json, chart: _chart, verbose: _verbose, ...rest } = o;
  return rest;
}

function writeChart(file: string | undefined, text: ChartText, series: ChartSeries[]): void {
  if (file === undefined) return;
  writeFileSync(file, renderChart(text, series));
  log(`chart written to ${file}`);
}

/**
 * --runs N: the whole target list N times, rotated by one each run so no target
 * always goes first (a machine warming up or getting busier would favour it).
 */
async function runsMode(
  o: BenchOptions,
  skipped: Skipped[],
  plan: Plan = zipfPlan(o, chainPrefix()),
): Promise<{ text: string; json: object; failed: boolean }> {
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const records: RunRecord[] = [];
  for (let run = 0; run < o.runs; run++) {
    const k = run % o.targets.length;
    const order = [...o.targets.slice(k), ...o.targets.slice(0, k)];
    for (const target of order) {
      const { loadAverage, cores } = machineInfo();
      const results = await eachTarget(
        { ...o, targets: [target] },
        plan.chains.map((c) => c.name),
        (t) => runLoad(t, plan, timing),
        skipped,
      );
      records.push(...results.map((result) => ({ run, loadAverage, cores, result })));
    }
  }
  // Summaries in the order the targets were named, whatever order they ran in.
  const summary = summarizeRuns(records).sort((a, b) => rank(o, a.target) - rank(o, b.target));
  // The quiet plan sends single entries whatever --batch says: describe what was sent.
  const batches = new Set(plan.workers.flat().map((c) => c.batch));
  const shape = describePlan(plan, batches.size === 1 ? [...batches][0]! : o.batch, o.entrySize, o.inflight);
  // Against each target's median committed rate.
  const disk = diskAgainst(
    summary.map((t) => ({ target: t.target, committedPerSec: t.committedPerSec?.median ?? null })),
    o.entrySize,
  );
  return {
    text: [
      `${o.runs} runs: ${shape}`,
      formatRuns(records, summary),
      ...(disk === null ? [] : [disk.text]),
      ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`),
    ].join('\n\n'),
    json: { plan: { chains: plan.chains, workers: plan.workers.map((w) => w.length) }, runs: records, summary, disk: disk?.json ?? null },
    failed: records.length === 0,
  };
}

function rank(o: BenchOptions, target: string): number {
  const i = o.targets.indexOf(target as TargetName);
  return i < 0 ? o.targets.length : i;
}

/**
 * A quiet gateway: a few light chains, one entry every few ms, nothing else.
 * What is left of the latency is the gateway's own path (and whatever wakes
 * beside it), set beside the bare uWS echo in the same runs.
 */
function quietPlan(o: BenchOptions): Plan {
  const shape: IsolationShape = { lightChains: o.chains, lightRate: o.lightRate, floodConnections: 0, batch: 1, inflight: 1, workers: o.workers };
  return isolationPlan(shape, chainPrefix(), false);
}

async function loadMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  if (o.mode === 'quiet') return runsMode(o, skipped, quietPlan(o));
  if (o.runs > 1) return runsMode(o, skipped);
  const plan: Plan = zipfPlan(o, chainPrefix());
  const shape = describePlan(plan, o.batch, o.entrySize, o.inflight);
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const results = await eachTarget(
    o,
    plan.chains.map((c) => c.name),
    (t) => runLoad(t, plan, timing),
    skipped,
  );
  const all = o.mode === 'compare' ? compareRatios(results) : [];
  const parts = results.map((r) => formatLoad(r, shape, o.warmupS));
  if (o.mode === 'compare' && results.length > 1) parts.push(formatCompare(results, all));
  const disk = diskAgainst(
    results.map((r) => ({ target: r.target, committedPerSec: r.committedPerSec })),
    o.entrySize,
  );
  if (disk !== null) parts.push(disk.text);
  parts.push(...skipped.map((s) => `${s.target}: skipped — ${s.reason}`));
  const chartSeries = results.map((r) => ({ label: r.target, points: r.series }));
  writeChart(o.chart, { title: `chainlanes bench: ${o.mode}`, subtitle: shape.split('; ') }, chartSeries);
  return {
    text: parts.join('\n\n'),
    json: { plan: { chains: plan.chains, workers: plan.workers.map((w) => w.length) }, results, ratios: all, disk: disk?.json ?? null },
    failed: results.length === 0,
  };
}

/** The disk's own limit at the size of the best committing target's seals, and each committing target as a fraction of it. */
function diskAgainst(results: readonly { target: string; committedPerSec: number | null }[], entrySize: number): { text: string; json: object } | null {
  const rates = results.flatMap((r) =>
    r.committedPerSec !== null && r.committedPerSec > 0 ? [{ target: r.target, bytesPerSec: committedBytesPerSec(r.committedPerSec, entrySize) }] : [],
  );
  if (rates.length === 0) return null;
  const limit = measureDisk(Math.max(...rates.map((r) => r.bytesPerSec)));
  const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB/s`;
  const rows = [
    ['target', 'committed', 'disk limit', 'ratio'],
    ...rates.map((r) => [r.target, mb(r.bytesPerSec), mb(limit.bytesPerSec), fmtRatio(r.bytesPerSec / limit.bytesPerSec)]),
  ];
  const head = `the disk's own limit: ${limit.seals} sequential writes of ${fmtBytes(limit.sealBytes)} (one seal) each followed by fdatasync, measured after the runs`;
  return { text: [head, '', table(rows)].join('\n'), json: { ...limit, targets: rates.map((r) => ({ ...r, ratio: r.bytesPerSec / limit.bytesPerSec })) } };
}

async function isolationMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const shape: IsolationShape = {
    lightChains: o.chains,
    lightRate: o.lightRate,
    floodConnections: o.connections,
    batch: o.batch,
    inflight: o.inflight,
    workers: o.workers,
  };
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const prefix = chainPrefix();
  const chains = isolationPlan(shape, prefix, true).chains.map((c) => c.name);
  const results: IsolationResult[] = await eachTarget(o, chains, (t) => runIsolation(t, shape, prefix, timing), skipped);
  const parts = [formatIsolation(results, shape), ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`)];
  const series = results.flatMap((r) => [
    { label: `${r.target} alone`, points: r.alone.series.map((p) => ({ ...p, p99Us: p.lightP99Us })) },
    { label: `${r.target} flooded`, points: r.flood.series.map((p) => ({ ...p, p99Us: p.lightP99Us })) },
  ]);
  const subtitle = [`${shape.lightChains} light chains × ${shape.lightRate} single-entry frames/s; flood: 1 chain, ${shape.floodConnections} connections`];
  writeChart(o.chart, { title: 'chainlanes bench: isolation', subtitle, latencyTitle: 'light chains: p99 send → accepted (ms)' }, series);
  return { text: parts.join('\n\n'), json: { isolation: results }, failed: results.length === 0 };
}

/**
 * Two floods and many light chains: chainlanes with its fair shares, the same
 * gateway with them off (balancer.fairShare false), and the straightforward
 * gateway, one after the other in the same run.
 */
async function floodsMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const shape: FloodsShape = {
    lightChains: o.chains,
    lightRate: o.lightRate,
    floodConnections: o.connections,
    batch: o.batch,
    inflight: o.inflight,
    workers: o.workers,
    floods: 2,
  };
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const prefix = chainPrefix();
  const chains = floodsPlan(shape, prefix, true).chains.map((c) => c.name);
  const run = (t: LoadTarget): Promise<FloodsResult> => runFloods(t, shape, prefix, timing);
  const results: FloodsResult[] = [];
  if (o.url !== undefined) results.push(...(await eachTarget(o, chains, run, skipped)));
  else {
    type Variant = { label: string; target: TargetName; config?: object };
    const all: Variant[] = [
      { label: 'chainlanes-open (fair shares)', target: 'chainlanes-open' },
      { label: 'chainlanes-open (fair shares off)', target: 'chainlanes-open', config: { balancer: { fairShare: false } } },
      { label: 'ws-gateway', target: 'ws-gateway' },
    ];
    const variants = all.filter((v) => o.targets.includes(v.target));
    for (const v of variants) {
      const result = await withStarted(v.target, o, chains, run, v.config).catch((err: unknown) => {
        skipped.push({ target: v.label, reason: err instanceof Error ? err.message : String(err) });
        return undefined;
      });
      if (result !== undefined) results.push({ ...result, target: v.label });
    }
  }
  const parts = [formatFloods(results, shape), ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`)];
  return {
    text: parts.join('\n\n'),
    json: { floods: results.map((r) => ({ ...r, alone: { ...r.alone, series: undefined }, flooded: { ...r.flooded, series: undefined } })) },
    failed: results.length === 0,
  };
}

/**
 * What the credit check costs: the same load against the same gateway with
 * credits on (chainlanes) and off (chainlanes-open), round after round,
 * alternating which goes first so that a machine warming up or getting busier
 * does not favour one side. The medians are compared.
 */
async function creditsMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const plan: Plan = zipfPlan(o, chainPrefix());
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const chains = plan.chains.map((c) => c.name);
  const runs: { round: number; result: LoadResult }[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order: TargetName[] = round % 2 === 0 ? ['chainlanes', 'chainlanes-open'] : ['chainlanes-open', 'chainlanes'];
    const results = await eachTarget({ ...o, targets: order }, chains, (t) => runLoad(t, plan, timing), skipped);
    runs.push(...results.map((result) => ({ round, result })));
  }
  const summary = summarizeCredits(runs.map((r) => r.result));
  const shape = describePlan(plan, o.batch, o.entrySize, o.inflight);
  return {
    text: formatCredits(shape, runs, summary),
    json: {
      plan: { chains: plan.chains, workers: plan.workers.map((w) => w.length) },
      runs: runs.map((r) => ({ round: r.round, ...r.result })),
      credits: summary,
    },
    failed: runs.length === 0,
  };
}

/**
 * What signed heads cost (bench/heads.ts): the same load against the same
 * gateway with heads on and off, round after round, alternating which goes
 * first; then proof sizes at 10^6 directory blocks and the monitor's CPU.
 */
async function headsMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const plan: Plan = zipfPlan(o, chainPrefix());
  const timing = { durationS: o.durationS, warmupS: o.warmupS, entrySize: o.entrySize };
  const chains = plan.chains.map((c) => c.name);
  const runs: { round: number; result: LoadResult }[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? HEADS_VARIANTS : [...HEADS_VARIANTS].reverse();
    for (const variant of order) {
      log(`heads: round ${round + 1}, ${variant.label}`);
      const result = await withStarted('chainlanes-open', o, chains, (t) => runLoad(t, plan, timing), variant.config).catch((err: unknown) => {
        skipped.push({ target: variant.label, reason: err instanceof Error ? err.message : String(err) });
        return undefined;
      });
      if (result !== undefined) runs.push({ round, result: { ...result, target: variant.label } });
    }
  }
  log('heads: consistency proofs of a log of 10^6 directory blocks…');
  const sizes = consistencyProofSizes();
  log('heads: the monitor against a gateway whose head grows…');
  const monitor = await withStarted('chainlanes-open', o, [], (t) => monitorCost(t.url.replace(/^ws/, 'http'), Math.max(3, Math.min(o.durationS, 10))), {
    ledger: { blockIntervalMs: 20 },
  }).catch((err: unknown) => {
    skipped.push({ target: 'monitor', reason: err instanceof Error ? err.message : String(err) });
    return null;
  });
  const summary = summarizeHeads(runs);
  const shape = describePlan(plan, o.batch, o.entrySize, o.inflight);
  return {
    text: [formatHeads(shape, runs, summary, sizes, monitor), ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`)].join('\n\n'),
    json: {
      plan: { chains: plan.chains, workers: plan.workers.map((w) => w.length) },
      runs: runs.map((r) => ({ round: r.round, ...r.result, series: undefined })),
      heads: summary,
      proofSizes: sizes,
      monitor,
    },
    failed: runs.length === 0,
  };
}

async function hostileMode(o: BenchOptions): Promise<{ text: string; json: object; failed: boolean }> {
  const missing = unavailable('chainlanes');
  if (missing !== undefined) throw new Error(missing);
  const noGroups = o.attackCpu === null ? null : cpuGroupsUnavailable();
  if (noGroups !== null) throw new Error(`--attack-cpu needs a cgroup for the attack: ${noGroups}`);
  log("chainlanes: starting with the hostile scenario's limits…");
  const shape = {
    perKind: o.connections,
    kinds: o.kinds,
    attackWorkers: o.workers,
    attackNice: o.attackNice,
    attackCores: o.attackCpu,
    attackPinned: o.attackCores,
    lightRate: o.lightRate,
    floodConnections: 2,
    batch: o.batch,
    inflight: o.inflight,
    entrySize: o.entrySize,
  };
  const result: HostileResult = await runHostile(shape, chainPrefix(), {
    durationS: o.durationS,
    warmupS: o.warmupS,
    verbose: o.verbose,
    nodeFlags: nodeFlags('chainlanes', o),
    turnBudgetMs: o.turnBudgetMs,
    frontDoorRealtime: o.frontDoorRealtime,
    traceTurnsDir: o.traceTurnsDir,
    log,
  });
  const series = [
    { label: 'light alone', points: result.alone.load.series.map((p) => ({ ...p, p99Us: p.lightP99Us })) },
    ...(result.control === null ? [] : [{ label: 'light beside the control', points: result.control.load.series.map((p) => ({ ...p, p99Us: p.lightP99Us })) }]),
    { label: 'light under attack', points: result.attack.load.series.map((p) => ({ ...p, p99Us: p.lightP99Us })) },
  ];
  const subtitle = [
    `${shape.perKind} connections of each of ${shape.kinds.length} hostile kinds`,
    `bystanders: 1 light chain × ${shape.lightRate} frames/s, 1 flood chain`,
  ];
  writeChart(o.chart, { title: 'chainlanes bench: hostile', subtitle, latencyTitle: 'light chain: p99 send → accepted (ms)' }, series);
  return { text: formatHostile(result, o.warmupS), json: { hostile: result }, failed: false };
}

/** --cost: instructions per entry by thread for a fixed workload (bench/cost.ts). */
async function costMode(o: BenchOptions): Promise<{ text: string; json: object; failed: boolean }> {
  const plan = zipfPlan(o, chainPrefix());
  const settings = {
    frames: o.frames,
    batch: o.batch,
    entrySize: o.entrySize,
    inflight: o.inflight,
    runs: o.runs,
    counter: o.counter,
    verbose: o.verbose,
    keepDir: o.profileDir,
    blockIntervalMs: o.blockIntervalMs,
  };
  const runs = await runCost(o.targets, plan, settings, log);
  const workload = costWorkload(plan, o.frames, o.batch, o.entrySize, o.inflight);
  return { text: formatCost(runs, workload), json: { cost: runs, workload }, failed: runs.length === 0 };
}

/** The gateway at its connection limits: refusals and /healthz timed one answer at a time (bench/limits.ts). */
async function limitsMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const samples = o.durationS < 10 ? 50 : 200;
  const results: LimitsResult[] = [];
  for (const name of o.targets.filter((t) => t === 'chainlanes' || t === 'chainlanes-open')) {
    const result = await withStarted(name, o, [], (t) => runLimits(t, samples, log), LIMITS_CONFIG).catch((err: unknown) => {
      skipped.push({ target: name, reason: err instanceof Error ? err.message : String(err) });
      return undefined;
    });
    if (result !== undefined) results.push(result);
  }
  return {
    text: [formatLimits(results), ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`)].join('\n\n'),
    json: { limits: results },
    failed: results.length === 0,
  };
}

/** A paying client alone, then beside a flood of wrong keys (bench/wrong-keys.ts). */
async function wrongKeysMode(o: BenchOptions, skipped: Skipped[]): Promise<{ text: string; json: object; failed: boolean }> {
  const timing = { durationS: o.durationS, warmupS: o.warmupS };
  const results = await eachTarget(o, [WRONG_KEYS_CHAIN], (t) => runWrongKeys(t, timing, log), skipped);
  return {
    text: [formatWrongKeys(results), ...skipped.map((s) => `${s.target}: skipped — ${s.reason}`)].join('\n\n'),
    json: { wrongKeys: results },
    failed: results.length === 0,
  };
}

async function microMode(): Promise<{ text: string; json: object; failed: boolean }> {
  const suites: MicroSuite[] = await runMicro(log);
  return { text: formatMicro(suites), json: { micro: suites }, failed: false };
}

async function main(): Promise<number> {
  let o: BenchOptions | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    log(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  const skipped: Skipped[] = [];
  const machine = machineInfo(); // before the run, so the load average is other work's, not ours
  const out =
    o.mode === 'micro'
      ? await microMode()
      : o.mode === 'cost'
        ? await costMode(o)
        : o.mode === 'isolation'
          ? await isolationMode(o, skipped)
          : o.mode === 'floods'
            ? await floodsMode(o, skipped)
            : o.mode === 'credits'
              ? await creditsMode(o, skipped)
              : o.mode === 'heads'
                ? await headsMode(o, skipped)
                : o.mode === 'hostile'
                  ? await hostileMode(o)
                  : o.mode === 'limits'
                    ? await limitsMode(o, skipped)
                    : o.mode === 'wrong-keys'
                      ? await wrongKeysMode(o, skipped)
                      : await loadMode(o, skipped);
  if (o.json) {
    const doc = { bench: 'chainlanes', mode: o.mode, machine, argv: process.argv.slice(2), settings: settingsOf(o), ...out.json, skipped };
    console.log(JSON.stringify(doc, null, 2));
  } else {
    const m = machine;
    console.log(`machine: ${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}), load average ${m.loadAverage} at start\n`);
    console.log(out.text);
  }
  if (out.failed) log('bench: no target could be measured');
  return out.failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
