// How fast `chainlanes verify --data` checks a store (issue #25), against the two
// things that bound it: the disk's sequential read speed and the hashing floor (the
// per-block checks on a record already in memory, times the cores). Builds a store
// of --entries entries (16 chains, 200 B entries, blocks of 25,000 as a loaded
// gateway cuts them), then, --runs times, alternating the variants:
//   warm cache: the walk with its entry checks in 0 threads (the walk's own), 1, and
//               one per core; and the command as an operator runs it (a child process,
//               the credit and head checks in the same walk)
//   cold cache (root only: the page cache dropped before each): a plain sequential
//               read of the store's file, then the command
// Run: npm run build && node dist/bench/verify.js [--entries 10000000] [--runs 3]
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Ledger, verifyStore, type SealBlockInput } from '../src/ledger/index.js';
import { blockEntriesProblem } from '../src/ledger/block-check.js';
import { chainIdOf } from '../src/ledger/headers.js';
import { chainKey } from '../src/ledger/records.js';
import { STORE_DATA_FILE, openTables } from '../src/ledger/tables.js';
import { fmtBytes, fmtInt, table } from './report.js';
import { machineInfo } from './proc.js';

const CHAINS = 16;
const ENTRY_BYTES = 200;
const BLOCK_ENTRIES = 25_000;
const DROP_CACHES = '/proc/sys/vm/drop_caches';
const READ_CHUNK = 4 * 1024 * 1024;

interface Store {
  dir: string;
  entries: number;
  bytes: number;
}

/** A store of about `entries` entries: seals of one block per chain, the same random contents in every block. */
async function buildStore(dir: string, entries: number): Promise<Store> {
  const contents = randomFillSync(new Uint8Array(BLOCK_ENTRIES * ENTRY_BYTES));
  const entryHashes = new Uint8Array(BLOCK_ENTRIES * 32);
  const contentEnds = new Uint32Array(BLOCK_ENTRIES);
  for (let i = 0; i < BLOCK_ENTRIES; i++) {
    entryHashes.set(
      createHash('sha256')
        .update(contents.subarray(i * ENTRY_BYTES, (i + 1) * ENTRY_BYTES))
        .digest(),
      i * 32,
    );
    contentEnds[i] = (i + 1) * ENTRY_BYTES;
  }
  const ledger = await Ledger.open(dir);
  const seals = Math.max(1, Math.round(entries / (CHAINS * BLOCK_ENTRIES)));
  for (let s = 0; s < seals; s++) {
    const blocks = Array.from({ length: CHAINS }, (_, c): SealBlockInput => ({
      chainName: `verify-${c}`,
      firstSeq: s * BLOCK_ENTRIES,
      count: BLOCK_ENTRIES,
      entryHashes,
      contents,
      contentEnds,
    }));
    await ledger.seal({ blocks, sealedAt: Date.now() });
  }
  await ledger.close();
  return { dir, entries: seals * CHAINS * BLOCK_ENTRIES, bytes: statSync(join(dir, STORE_DATA_FILE)).size };
}

/** The per-block checks, in this thread, on one stored block record already in memory: entries/s of one core. */
async function hashingFloorPerCore(dir: string): Promise<number> {
  const tables = openTables(dir, true);
  const record = tables.blocks.get(chainKey(chainIdOf('verify-0'), 0));
  await tables.root.close();
  if (record === undefined) throw new Error('the store has no block 0 of chain verify-0');
  const rounds = 40;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) if (blockEntriesProblem(record, 'floor') !== undefined) throw new Error('the floor block does not verify');
  return (rounds * BLOCK_ENTRIES) / seconds(start);
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** The store's file read front to back once, as `cat` would: the disk's (or the cache's) sequential read. */
function readFile(store: Store): number {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  const fd = openSync(join(store.dir, STORE_DATA_FILE), 'r');
  const start = process.hrtime.bigint();
  try {
    while (readSync(fd, buffer, 0, READ_CHUNK, null) > 0);
  } finally {
    closeSync(fd);
  }
  return seconds(start);
}

async function walk(store: Store, checkThreads: number): Promise<number> {
  const start = process.hrtime.bigint();
  const report = await verifyStore(store.dir, { checkThreads });
  if (!report.ok || report.entries !== store.entries) throw new Error(`verify: ${report.firstBreak ?? `${report.entries} entries`}`);
  return seconds(start);
}

/** `chainlanes verify --data`, as an operator runs it. */
function command(store: Store): number {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [cli, 'verify', '--data', store.dir], { encoding: 'utf8' });
  const took = seconds(start);
  if (run.status !== 0) throw new Error(`chainlanes verify exited ${run.status}: ${run.stdout}${run.stderr}`);
  return took;
}

function dropCaches(): boolean {
  if (!existsSync(DROP_CACHES)) return false;
  try {
    spawnSync('sync');
    writeFileSync(DROP_CACHES, '3');
    return true;
  } catch {
    return false;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function row(store: Store, name: string, times: readonly number[]): string[] {
  const mid = median(times);
  const spread = `${Math.min(...times).toFixed(2)}–${Math.max(...times).toFixed(2)} s`;
  return [name, `${mid.toFixed(2)} s (${spread})`, fmtInt(store.entries / mid), `${Math.round(store.bytes / mid / 1e6)} MB/s`];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { entries: { type: 'string', default: '10000000' }, runs: { type: 'string', default: '3' } } });
  const entries = Number(values.entries);
  const runs = Number(values.runs);
  if (!Number.isInteger(entries) || entries < CHAINS * BLOCK_ENTRIES) throw new Error(`--entries must be an integer ≥ ${CHAINS * BLOCK_ENTRIES}`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be an integer ≥ 1');
  const machine = machineInfo();
  const cores = availableParallelism();
  console.log(
    `verify bench: ${machine.cpu}, ${cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverage}, ${new Date().toISOString()}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'chainlanes-verify-'));
  try {
    const store = await buildStore(dir, entries);
    console.log(`store: ${fmtInt(store.entries)} entries of ${ENTRY_BYTES} B, ${fmtBytes(store.bytes)} file`);
    const floor = await hashingFloorPerCore(dir);
    const variants: [string, () => Promise<number> | number][] = [
      ['walk, checks in its own thread (warm)', () => walk(store, 0)],
      ['walk, 1 check thread (warm)', () => walk(store, 1)],
      [`walk, ${cores} check threads (warm)`, () => walk(store, cores)],
      ['chainlanes verify --data (warm)', () => command(store)],
    ];
    const cold = dropCaches();
    if (cold) {
      variants.push(['sequential read of the file (cold)', () => (dropCaches(), readFile(store))]);
      variants.push(['chainlanes verify --data (cold)', () => (dropCaches(), command(store))]);
    }
    const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
    readFile(store);
    for (let r = 0; r < runs; r++) for (const [name, run] of variants) times.get(name)!.push(await run());
    const rows = [['', 'time, median (min–max)', 'entries/s', 'bytes/s']];
    for (const [name] of variants) rows.push(row(store, name, times.get(name)!));
    rows.push(['hashing floor, 1 core (in memory)', '', fmtInt(floor), `${Math.round((floor * store.bytes) / store.entries / 1e6)} MB/s`]);
    rows.push([`hashing floor × ${cores} cores`, '', fmtInt(floor * cores), `${Math.round((floor * cores * store.bytes) / store.entries / 1e6)} MB/s`]);
    console.log(table(rows));
    if (!cold) console.log('(not root, or no drop_caches: the cold-cache rows are left out)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
