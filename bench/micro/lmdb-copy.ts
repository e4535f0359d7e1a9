// What lmdb's copy of a block record costs, and what writing it in place would
// save (issue #25): the sealer builds each record in a warm arena, and lmdb's
// put copies it into dirty pages it mallocs (overflow pages), which its commit
// writes to the file. Two ways to skip a step exist in lmdb itself: MDB_RESERVE
// (the record built straight into lmdb's page: no copy; lmdb-js does not expose
// it, so it would take a put of our own in the addon, on lmdb-js's transaction)
// and MDB_WRITEMAP (lmdb-js `useWritemap`: dirty pages are the file's own mapped
// pages, so no malloc and no write() copy at commit; lmdb-js refuses child
// transactions with it, and the sealer's seal is one).
//
// Side by side, alternating round by round, heavy records (65,536 entries of
// 200 B, 15 MB) as the sealer stores them:
//   copy     — the copy alone: the record into a warm buffer of its size, what
//              MDB_RESERVE would save at most (its pages would still be lmdb's)
//   put      — lmdb's put (page allocation and the copy), inside a transaction
//   commit   — put and commit with its fsync, as a seal does (transactionSync)
//   writemap — the same put and commit in an environment opened useWritemap
// CPU is process.cpuUsage (this thread: everything here runs on it, lmdb's
// write thread is not used by transactionSync) per entry, and wall per entry.
// Run: npm run build && node dist/bench/micro/lmdb-copy.js
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { open, type Database, type RootDatabase } from 'lmdb';
import { hashing, system } from '../../src/native/index.js';
import { MALLOC_KEEP } from '../../src/gateway.js';
import { blockRecordBytes } from '../../src/ledger/records.js';
import { mapBytes } from '../../src/ledger/tables.js';
import type { Row } from './rows.js';

const ENTRIES = 65_536;
const ENTRY_BYTES = 200;
/** Records per round: a seal of four heavy blocks. */
const RECORDS = 4;
const ROUNDS = 8;
const VARIANTS = ['copy', 'put', 'commit', 'writemap'] as const;
type Variant = (typeof VARIANTS)[number];

interface Store {
  root: RootDatabase;
  db: Database<Buffer, Buffer>;
}

function openStore(dir: string, writemap: boolean): Store {
  const root = open(dir, { noSubdir: false, maxDbs: 4, mapSize: writemap ? 2 ** 34 : mapBytes(), useWritemap: writemap });
  return { root, db: root.openDB<Buffer, Buffer>('blocks', { keyEncoding: 'binary', encoding: 'binary' }) };
}

function key(round: number, r: number): Buffer {
  const k = Buffer.alloc(8);
  k.writeUInt32BE(round, 0);
  k.writeUInt32BE(r, 4);
  return k;
}

export async function runLmdbCopyBench(): Promise<Row[]> {
  // As the gateway runs: lmdb's freed pages kept by malloc for reuse.
  system.keepFreedMemory(MALLOC_KEEP.mmapThresholdBytes, MALLOC_KEEP.trimThresholdBytes);
  const dir = mkdtempSync(join(tmpdir(), 'chainlanes-bench-lmdb-copy-'));
  const bytes = blockRecordBytes(ENTRIES, ENTRIES * ENTRY_BYTES);
  const records = Array.from({ length: RECORDS }, () => Buffer.from(randomFillSync(new Uint8Array(bytes))));
  const warm = new Uint8Array(bytes);
  const stores = { plain: openStore(join(dir, 'plain'), false), writemap: openStore(join(dir, 'writemap'), true) };
  const tally = new Map<Variant, { cpuUs: number; wallNs: bigint }>(VARIANTS.map((v) => [v, { cpuUs: 0, wallNs: 0n }]));
  try {
    for (let round = -1; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round + 1) % VARIANTS.length]!);
      for (const v of order) {
        const store = v === 'writemap' ? stores.writemap : stores.plain;
        let cpu = { user: 0, system: 0 };
        let wall = 0n;
        const timed = (fn: () => void): void => {
          const cpu0 = process.cpuUsage();
          const wall0 = process.hrtime.bigint();
          fn();
          const used = process.cpuUsage(cpu0);
          cpu = { user: cpu.user + used.user, system: cpu.system + used.system };
          wall += process.hrtime.bigint() - wall0;
        };
        const puts = (): void => records.forEach((record, r) => store.db.putSync(key(round + 1, r + RECORDS * VARIANTS.indexOf(v)), record));
        if (v === 'copy') timed(() => records.forEach((record) => hashing.copyBytes(record, 0, record.length, warm, 0)));
        else if (v === 'put') store.root.transactionSync(() => timed(puts));
        else timed(() => store.root.transactionSync(puts));
        if (round < 0) continue;
        const t = tally.get(v)!;
        t.cpuUs += cpu.user + cpu.system;
        t.wallNs += wall;
      }
    }
  } finally {
    await stores.plain.root.close();
    await stores.writemap.root.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const entries = ROUNDS * RECORDS * ENTRIES;
  return VARIANTS.flatMap((v) => {
    const t = tally.get(v)!;
    const cpuNs = (t.cpuUs * 1000) / entries;
    const wallNs = Number(t.wallNs) / entries;
    return [
      { name: `heavy records, ${v}: CPU per entry`, opsPerSec: 1e9 / cpuNs, nsPerOp: cpuNs },
      { name: `heavy records, ${v}: wall per entry`, opsPerSec: 1e9 / wallNs, nsPerOp: wallNs },
    ];
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(
    (await runLmdbCopyBench()).map((r) => ({ name: r.name, 'ns/entry': Math.round(r.nsPerOp), 'CPU-s per M entries': (r.nsPerOp / 1000).toFixed(3) })),
  );
}
