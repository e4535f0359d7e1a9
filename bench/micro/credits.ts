// Micro-benchmark of what credits add to a frame's admission in the front door:
// pricing a 64 × 200 B frame from its spans, checking and debiting the writer's
// balance and remembering the burn with its block (CreditBook.bill + burn), and
// a key check at a WebSocket upgrade (checksum, SHA-256, Map lookup, constant-
// time compare) against a made-up key refused by its checksum alone.
// Run: npm run build && node dist/bench/micro/credits.js
import { randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Packr } from 'msgpackr';
import { Bench } from 'tinybench';
import { CreditBook, isRefusal, keyDigest, newKey, type Principal } from '../../src/credits/index.js';
import { FrameReader } from '../../src/ring/index.js';
import { rowsOf, type Row } from './rows.js';

const ENTRIES = 64;
const ENTRY_BYTES = 200;
const WRITER = 'acct_aaaaaaaaaaaaaaaa';

function frame(): Uint8Array {
  const content = randomFillSync(Buffer.alloc(ENTRIES * ENTRY_BYTES));
  return new Packr({ useRecords: false }).pack(Array.from({ length: ENTRIES }, (_, i) => content.subarray(i * ENTRY_BYTES, (i + 1) * ENTRY_BYTES)));
}

export async function runCreditsBench(): Promise<Row[]> {
  const bytes = frame();
  const reader = new FrameReader({ maxEntryBytes: 1 << 20, maxEntriesPerFrame: 1 << 16 });
  const spans = new Int32Array(2 * ENTRIES);
  const book = new CreditBook(keyDigest(newKey())!);
  const policy = { writePerEntry: 1, writePerKiB: 1, readPerEntry: 0, writers: [WRITER], readers: 'owner' as const, transferable: false };
  const chain = book.addChain('bench', 'acct_bbbbbbbbbbbbbbbb', { version: 1, fromSeq: 0, policy });
  chain.credit(WRITER, Number.MAX_SAFE_INTEGER);
  const writer: Principal = { kind: 'account', account: WRITER, keyId: 'key_aaaaaaaaaaaaaaaa' };
  const goodKey = newKey();
  book.addKey('key_aaaaaaaaaaaaaaaa', { account: WRITER, digest: keyDigest(goodKey)!.toString('hex'), createdAt: 0, revokedAt: null });
  const madeUp = 'clk_' + 'a'.repeat(36);
  let block = 0;
  let frames = 0;
  let sink = 0;

  const shape = `${ENTRIES}×${ENTRY_BYTES} B frame`;
  const bench = new Bench({ time: 500 });
  bench.add(`FrameReader.scan with spans (admission's walk, for scale), ${shape}`, () => {
    sink += reader.scan(bytes, 0, bytes.length, spans);
  });
  bench.add(`credit check: bill + burn, ${shape}`, () => {
    const bill = book.bill('bench', writer, ENTRIES, spans);
    if (isRefusal(bill)) throw new Error(bill.message);
    book.burn(bill, block, 0, ENTRIES);
    // A block is cut every 1,024 frames (64 Ki entries), as ledger.maxBlockEntries does.
    if (++frames % 1024 === 0) sink += book.takeBurns('bench', block++)?.length ?? 0;
  });
  bench.add('key check, a live key', () => {
    sink += book.authenticate(goodKey) === writer ? 0 : 1;
  });
  bench.add('key check, a made-up key (refused by its checksum)', () => {
    sink += isRefusal(book.authenticate(madeUp)) ? 1 : 0;
  });
  await bench.run();
  if (sink === 0) throw new Error('nothing was measured');
  return rowsOf(bench);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runCreditsBench());
}
