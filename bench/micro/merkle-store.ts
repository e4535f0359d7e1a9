// Micro-benchmark of the ledger's seal (roots, headers, one durable lmdb
// transaction) at the two extremes of an interval: one heavy chain with a full
// 65,536-entry block, and 100 light chains with 64 entries each. Also the cost
// of serving one entry proof from each kind of block.
// Run: npm run build && node dist/bench/micro/merkle-store.js
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import type { Task } from 'tinybench';
import { Ledger } from '../../src/ledger/index.js';
import type { SealBlockInput } from '../../src/ledger/index.js';
import type { Row } from './rows.js';

interface Scenario {
  label: string;
  chains: number;
  entries: number;
  entryBytes: number;
  /** Fixed iteration count: a heavy seal writes ~15 MB, so time-boxed runs would fill the disk. */
  iterations: number;
}

const SCENARIOS: readonly Scenario[] = [
  { label: '1 chain × 65,536 × 200 B', chains: 1, entries: 65_536, entryBytes: 200, iterations: 12 },
  { label: '100 chains × 64 × 200 B', chains: 100, entries: 64, entryBytes: 200, iterations: 200 },
];

/** One chain's block as the sealer would hand it over; firstSeq is set per seal. */
function blockTemplate(chainName: string, entries: number, entryBytes: number): SealBlockInput {
  const contents = randomFillSync(Buffer.allocUnsafe(entries * entryBytes));
  const entryHashes = Buffer.allocUnsafe(entries * 32);
  const contentEnds = new Uint32Array(entries);
  for (let i = 0; i < entries; i++) {
    const content = contents.subarray(i * entryBytes, (i + 1) * entryBytes);
    createHash('sha256')
      .update(content)
      .digest()
      .copy(entryHashes, i * 32);
    contentEnds[i] = (i + 1) * entryBytes;
  }
  return { chainName, firstSeq: 0, count: entries, entryHashes, contents, contentEnds };
}

interface ScenarioResult {
  seal: Row;
  perEntry: Row;
  proof: Row;
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const dir = await mkdtemp(join(tmpdir(), 'chainlanes-bench-ledger-'));
  const ledger = await Ledger.open(dir);
  try {
    const templates = Array.from({ length: s.chains }, (_, c) => blockTemplate(`bench-${c}`, s.entries, s.entryBytes));
    let interval = 0;
    const sealOne = async (): Promise<void> => {
      const firstSeq = interval * s.entries;
      await ledger.seal({ blocks: templates.map((t) => ({ ...t, firstSeq })), sealedAt: Date.now() });
      interval++;
    };
    const bench = new Bench({ time: 0, iterations: s.iterations, warmupTime: 0, warmupIterations: 2 });
    bench.add(`seal ${s.label}`, sealOne, { async: true });
    await bench.run();
    const seal = rowOf(bench.tasks[0]);

    const sealedEntries = interval * s.chains * s.entries;
    const writesPerEntry = storedRecords(ledger) / sealedEntries;
    const perEntry: Row = {
      name: `seal ${s.label}: per entry, ${writesPerEntry.toPrecision(2)} store writes/entry`,
      opsPerSec: seal.opsPerSec * s.chains * s.entries,
      nsPerOp: seal.nsPerOp / (s.chains * s.entries),
    };
    return { seal, perEntry, proof: await proofRow(ledger, s) };
  } finally {
    await ledger.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function proofRow(ledger: Ledger, s: Scenario): Promise<Row> {
  let seq = 0;
  const bench = new Bench({ time: 300, warmupTime: 50 });
  bench.add(
    `entryProof from a ${s.entries}-entry block`,
    () => {
      if (ledger.entryProof('bench-0', seq) === null) throw new Error(`no proof for seq ${seq}`);
      seq = (seq + 7919) % s.entries;
    },
    { async: false },
  );
  await bench.run();
  return rowOf(bench.tasks[0]);
}

/** Every key in every ledger table: each was written exactly once. */
function storedRecords(ledger: Ledger): number {
  const env = ledger.environment;
  return ['ledger.blocks', 'ledger.seqIndex', 'ledger.directories', 'ledger.anchors', 'ledger.chains']
    .map((name) => env.openDB(name, { keyEncoding: 'binary', encoding: 'binary' }).getKeysCount())
    .reduce((a, b) => a + b, 0);
}

function rowOf(task: Task | undefined): Row {
  if (task === undefined) throw new Error('bench task missing');
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
  // period is totalTime / runs in ms: the mean cost of one call.
  return { name: task.name, opsPerSec: 1000 / result.period, nsPerOp: result.period * 1e6 };
}

export type { Row };

export async function runLedgerBench(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const scenario of SCENARIOS) {
    const { seal, perEntry, proof } = await runScenario(scenario);
    rows.push(seal, perEntry, proof);
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runLedgerBench();
  console.table(result.map((r) => ({ name: r.name, 'ops/s': Math.round(r.opsPerSec), 'ns/op': Math.round(r.nsPerOp) })));
}
