// Micro-benchmark of the sealer's path from its backlog to a durable seal (issue #10),
// the variants side by side in the same run, alternating seal by seal so the machine's
// noise falls on all alike:
//   before  — the pre-#10 path: the block's hashes, contents and rebased ends copied out
//             of the backlog into scratch arrays (JS loop per entry), then the ledger's
//             array path (chunk roots per chunk, encodeBlockRecord with a JS loop per entry)
//   native  — prepareBlockRecord: one native call per block writes chunk roots, hashes,
//             ends and contents into the record's reused memory, and computes the root
//   js      — the same record built by the JS fallback of that call
//   lmdb    — the store alone: records built before the clock starts, only Ledger.seal timed
//             (plan, header, lmdb put and commit with its fsync)
//   disk    — the floor: the same bytes written to an append-only file, one write and one
//             fdatasync per seal (what the disk itself costs for a seal of that size); lmdb
//             against disk is the store-layout question of issue #10
// Rows are CPU time of the whole process (this thread and lmdb's write thread) per entry,
// and wall time per entry. Run: npm run build && node dist/bench/micro/seal-path.js
import { randomFillSync, createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ledger, prepareBlockRecord } from '../../src/ledger/index.js';
import type { PreparedBlockInput, SealBlockInput } from '../../src/ledger/index.js';
import { jsAddon } from '../../src/native/index.js';
import { BLOCK_BODY_AT, blockRecordBytes } from '../../src/ledger/records.js';
import { CHUNK_LEAVES } from '../../src/ledger/chunks.js';
import type { Row } from './rows.js';

interface Scenario {
  label: string;
  chains: number;
  entries: number;
  entryBytes: number;
  seals: number;
}

const SCENARIOS: readonly Scenario[] = [
  { label: '1 chain × 65,536 × 200 B', chains: 1, entries: 65_536, entryBytes: 200, seals: 10 },
  { label: '100 chains × 64 × 200 B', chains: 100, entries: 64, entryBytes: 200, seals: 60 },
];
const VARIANTS = ['before', 'native', 'js', 'lmdb', 'disk'] as const;
type Variant = (typeof VARIANTS)[number];

/** A chain's entries as the sealer's backlog holds them: inside a larger buffer, ends absolute. */
interface Backlog {
  name: string;
  hashes: Uint8Array;
  ends: Uint32Array;
  start: number;
  contents: Uint8Array;
}

function backlog(name: string, entries: number, entryBytes: number): Backlog {
  const start = 4096;
  const contents = randomFillSync(new Uint8Array(start + entries * entryBytes + 4096));
  const hashes = new Uint8Array(entries * 32);
  const ends = new Uint32Array(entries);
  for (let i = 0; i < entries; i++) {
    const from = start + i * entryBytes;
    hashes.set(
      createHash('sha256')
        .update(contents.subarray(from, from + entryBytes))
        .digest(),
      i * 32,
    );
    ends[i] = from + entryBytes;
  }
  return { name, hashes, ends, start, contents };
}

/** The pre-#10 sealer: SealArena.take + copyBlock, then the ledger's array path. */
function copiedBlock(b: Backlog, firstSeq: number): SealBlockInput {
  const count = b.ends.length;
  const end = b.ends[count - 1]!;
  const entryHashes = new Uint8Array(count * 32);
  const contents = new Uint8Array(end - b.start);
  const contentEnds = new Uint32Array(count);
  entryHashes.set(b.hashes);
  contents.set(b.contents.subarray(b.start, end));
  for (let i = 0; i < count; i++) contentEnds[i] = b.ends[i]! - b.start;
  return { chainName: b.name, firstSeq, count, entryHashes, contents, contentEnds };
}

function recordBytesOf(b: Backlog): number {
  return blockRecordBytes(b.ends.length, b.ends[b.ends.length - 1]! - b.start);
}

class Arena {
  private memory = new Uint8Array(0);
  private used = 0;
  reset(): void {
    this.used = 0;
  }
  take(bytes: number): Uint8Array {
    if (this.used + bytes > this.memory.length) {
      this.memory = new Uint8Array(2 * (this.used + bytes));
      this.used = 0;
    }
    this.used += bytes;
    return this.memory.subarray(this.used - bytes, this.used);
  }
}

function preparedBlock(b: Backlog, firstSeq: number, arena: Arena, js: boolean): PreparedBlockInput {
  const count = b.ends.length;
  const source = [{ count, hashes: b.hashes, ends: b.ends, contentStart: b.start, contents: b.contents }];
  if (!js) return { chainName: b.name, firstSeq, count, prepared: prepareBlockRecord(source, (n) => arena.take(n)) };
  // The fallback's body, laid out as prepareBlockRecord lays it out.
  const memory = arena.take(recordBytesOf(b));
  const record = Buffer.from(memory.buffer, memory.byteOffset, memory.length);
  const root = jsAddon.blockBody(source, CHUNK_LEAVES, record.subarray(BLOCK_BODY_AT));
  return { chainName: b.name, firstSeq, count, prepared: { record, root } };
}

interface Tally {
  cpuUs: number;
  wallNs: bigint;
  entries: number;
}

export async function runSealPathBench(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const s of SCENARIOS) {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-bench-seal-'));
    const chains = Array.from({ length: s.chains }, (_, c) => backlog(`bench-${c}`, s.entries, s.entryBytes));
    const ledgers = new Map<Variant, Ledger>();
    for (const v of VARIANTS) if (v !== 'disk') ledgers.set(v, await Ledger.open(join(dir, v)));
    const segment = openSync(join(dir, 'segment'), 'a');
    const arena = new Arena();
    const prebuilt = chains.map((c) => preparedBlock(c, 0, new Arena(), false).prepared);
    const diskBytes = randomFillSync(new Uint8Array(Math.max(...chains.map(recordBytesOf))));
    const tally = new Map<Variant, Tally>(VARIANTS.map((v) => [v, { cpuUs: 0, wallNs: 0n, entries: 0 }]));
    try {
      for (let seal = -1; seal < s.seals; seal++) {
        const firstSeq = (seal + 1) * s.entries;
        // Rotate the order every seal so no variant always runs first (seal -1 is a warm-up).
        const order = VARIANTS.map((_, i) => VARIANTS[(i + seal + 1) % VARIANTS.length]!);
        for (const v of order) {
          arena.reset();
          const cpu0 = process.cpuUsage();
          const wall0 = process.hrtime.bigint();
          if (v === 'disk') {
            for (const c of chains) writeSync(segment, diskBytes, 0, recordBytesOf(c));
            fdatasyncSync(segment);
          } else {
            const blocks =
              v === 'lmdb'
                ? chains.map((c, i) => ({ chainName: c.name, firstSeq, count: c.ends.length, prepared: prebuilt[i]! }))
                : chains.map((c) => (v === 'before' ? copiedBlock(c, firstSeq) : preparedBlock(c, firstSeq, arena, v === 'js')));
            await ledgers.get(v)!.seal({ blocks, sealedAt: Date.now() });
          }
          const cpu = process.cpuUsage(cpu0);
          const wall = process.hrtime.bigint() - wall0;
          if (seal < 0) continue;
          const t = tally.get(v)!;
          t.cpuUs += cpu.user + cpu.system;
          t.wallNs += wall;
          t.entries += s.chains * s.entries;
        }
      }
    } finally {
      closeSync(segment);
      for (const l of ledgers.values()) await l.close();
      rmSync(dir, { recursive: true, force: true });
    }
    for (const v of VARIANTS) {
      const t = tally.get(v)!;
      const cpuNs = (t.cpuUs * 1000) / t.entries;
      const wallNs = Number(t.wallNs) / t.entries;
      rows.push({ name: `${s.label}, ${v}: CPU per entry (all threads)`, opsPerSec: 1e9 / cpuNs, nsPerOp: cpuNs });
      rows.push({ name: `${s.label}, ${v}: wall per entry`, opsPerSec: 1e9 / wallNs, nsPerOp: wallNs });
    }
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runSealPathBench();
  console.table(result.map((r) => ({ name: r.name, 'ns/entry': Math.round(r.nsPerOp), 'CPU-s per M entries': (r.nsPerOp / 1000).toFixed(3) })));
}
