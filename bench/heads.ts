// --scenario heads: what signed heads of the directory log cost (issue #23).
//   1. The --compare load against the gateway with heads on and off, in the
//      same run, alternating which goes first: entries/s and CPU per entry.
//   2. The bytes of a consistency proof for a log of 10^6 directory blocks,
//      from the gateway's own tree code (src/ledger/directory-log.ts).
//   3. The monitor's CPU per checked head: `chainlanes monitor` against a
//      gateway whose head changes at every look (so each look fetches and
//      checks a head and a consistency proof), its CPU read from /proc.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogFrontier, LogProofs } from '../src/ledger/index.js';
import type { LoadResult } from './load.js';
import { processCpuSeconds } from './proc.js';
import { fmtInt, formatOnOff, median, summarizeOnOff, table, type OnOffSummary } from './report.js';

/** The two sides of the A/B: the same gateway (open mode), heads on and off. */
export const HEADS_VARIANTS = [
  { label: 'heads on', config: {} },
  { label: 'heads off', config: { heads: { enabled: false } } },
] as const;

export type HeadsSummary = OnOffSummary;

export function summarizeHeads(runs: readonly { result: LoadResult }[]): HeadsSummary {
  return summarizeOnOff(
    runs.map((r) => r.result),
    HEADS_VARIANTS[0].label,
    HEADS_VARIANTS[1].label,
  );
}

export interface ProofSizes {
  logSize: number;
  /** Seconds to build the tree of logSize leaves in memory (one SHA-256 per node, 2n in all). */
  buildSeconds: number;
  rows: { what: string; hashes: number; jsonBytes: number; binaryBytes: number }[];
  /** Over `sampled` random `from` sizes: the largest and the median proof. */
  random: { sampled: number; maxHashes: number; medianHashes: number; maxJsonBytes: number };
}

/** Consistency proofs of a log of `n` directory hashes, as GET /v1/directory/consistency would answer them. */
export function consistencyProofSizes(n = 1_000_000, sampled = 1000): ProofSizes {
  const started = performance.now();
  const nodes = new Map<number, Buffer>();
  // key = level · 2^40 + index: exact for n < 2^40.
  const keyOf = (level: number, index: number): number => level * 2 ** 40 + index;
  let frontier = LogFrontier.empty;
  // Stand-ins for directory hashes: random, drawn once (a call per leaf costs more than its hashing).
  const leaves = randomBytes(32 * n);
  for (let i = 0; i < n; i++) {
    const step = frontier.append(leaves.subarray(32 * i, 32 * i + 32));
    for (const node of step.written) nodes.set(keyOf(node.level, node.index), node.hash);
    frontier = step.next;
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const proofs = new LogProofs((level, index) => nodes.get(keyOf(level, index)), n);
  const measure = (from: number, to: number): { hashes: number; jsonBytes: number; binaryBytes: number } => {
    const path = proofs.consistency(from, to);
    const json = JSON.stringify({ from, to, path: path.map((p) => p.toString('hex')) });
    return { hashes: path.length, jsonBytes: Buffer.byteLength(json), binaryBytes: path.length * 32 };
  };
  const rows = [
    { what: `1 → ${n}`, ...measure(1, n) },
    { what: `${n / 2} → ${n}`, ...measure(n / 2, n) },
    { what: `${2 ** 19} → ${n} (a power of two)`, ...measure(2 ** 19, n) },
    { what: `${n - 1} → ${n} (one seal apart)`, ...measure(n - 1, n) },
    { what: `${n - 1000} → ${n} (1000 seals apart)`, ...measure(n - 1000, n) },
  ];
  const random = Array.from({ length: sampled }, () => measure(1 + Math.floor(Math.random() * (n - 1)), n));
  return {
    logSize: n,
    buildSeconds,
    rows,
    random: {
      sampled,
      maxHashes: Math.max(...random.map((r) => r.hashes)),
      medianHashes: median(random.map((r) => r.hashes)),
      maxJsonBytes: Math.max(...random.map((r) => r.jsonBytes)),
    },
  };
}

export interface MonitorCost {
  /** The window measured: from the monitor's first checked head (its start-up left out) to the end. */
  seconds: number;
  /** Heads the monitor fetched and checked in the window (each with a consistency proof, the head having grown). */
  checks: number;
  cpuSeconds: number;
  cpuMsPerCheck: number | null;
}

/**
 * `chainlanes monitor` at --interval 0.05 against `httpUrl` for `seconds`,
 * while one entry is posted every 20 ms so the head changes at every look.
 */
export async function monitorCost(httpUrl: string, seconds: number): Promise<MonitorCost> {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const state = await mkdtemp(join(tmpdir(), 'chainlanes-bench-monitor-'));
  let posting = true;
  const trickle = (async (): Promise<void> => {
    for (let i = 0; posting; i++) {
      await fetch(`${httpUrl}/v1/chains/bench-monitor/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([`entry ${i}`]),
      }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const child = spawn(process.execPath, [cli, 'monitor', httpUrl, '--state', state, '--interval', '0.05', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const lines = (): { event: string }[] =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string });
  const oks = (): number => lines().filter((l) => l.event === 'ok').length;
  try {
    // The window starts at the first checked head: node's start-up and the imports are not a head's cost.
    const deadline = Date.now() + 30_000;
    while (oks() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const [firstCpu, firstChecks, started] = [processCpuSeconds(child.pid ?? 0) ?? 0, oks(), performance.now()];
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpuSeconds = (processCpuSeconds(child.pid ?? 0) ?? 0) - firstCpu;
    const checks = oks() - firstChecks;
    const events = lines().filter((l) => l.event !== 'ok');
    if (events.length > 0) throw new Error(`the monitor reported events during the bench: ${JSON.stringify(events.slice(0, 3))}`);
    return {
      seconds: Math.round((performance.now() - started) / 100) / 10,
      checks,
      cpuSeconds,
      cpuMsPerCheck: checks === 0 ? null : (cpuSeconds * 1000) / checks,
    };
  } finally {
    posting = false;
    child.kill('SIGKILL');
    await trickle;
    await rm(state, { recursive: true, force: true });
  }
}

export function formatHeads(
  shape: string,
  runs: readonly { round: number; result: LoadResult }[],
  s: HeadsSummary,
  sizes: ProofSizes,
  monitor: MonitorCost | null,
): string {
  return [
    formatOnOff(
      'heads',
      'signed heads on (the directory log kept and each head signed in its seal) vs off, chainlanes-open, same load, alternating order',
      shape,
      runs,
      HEADS_VARIANTS[0].label,
      s,
    ),
    '',
    `consistency proofs of a log of ${fmtInt(sizes.logSize)} directory hashes (tree built in ${sizes.buildSeconds.toFixed(1)} s):`,
    table([
      ['from → to', 'hashes', 'bytes (hashes)', 'bytes (JSON answer)'],
      ...sizes.rows.map((r) => [r.what, String(r.hashes), fmtInt(r.binaryBytes), fmtInt(r.jsonBytes)]),
      [
        `${sizes.random.sampled} random from`,
        `max ${sizes.random.maxHashes}, median ${sizes.random.medianHashes}`,
        fmtInt(sizes.random.maxHashes * 32),
        `max ${fmtInt(sizes.random.maxJsonBytes)}`,
      ],
    ]),
    '',
    monitor === null
      ? 'monitor: not measured'
      : `monitor (chainlanes monitor --interval 0.05, the head growing at every look): ${fmtInt(monitor.checks)} heads checked in ${monitor.seconds} s, ` +
        `${monitor.cpuSeconds.toFixed(2)} CPU s: ${monitor.cpuMsPerCheck === null ? 'n/a' : monitor.cpuMsPerCheck.toFixed(2)} ms of CPU per checked head (head, signature, consistency proof)`,
  ].join('\n');
}
