// Micro-benchmark of the front door's per-frame work and the lane ring: reading
// a protocol v1 frame (64 entries × 200 B) with msgpackr vs walking it in place
// with FrameReader, and one ring round trip (push, visit, release).
// Run: npm run build && node dist/bench/micro/frames.js
import { randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Packr, Unpackr } from 'msgpackr';
import { Bench } from 'tinybench';
import { forEachRecord, FrameReader, RingProducer, RingView } from '../../src/ring/index.js';
import { rowsOf, type Row } from './rows.js';

const ENTRIES = 64;
const ENTRY_BYTES = 200;

function frame(): Uint8Array {
  const content = randomFillSync(Buffer.alloc(ENTRIES * ENTRY_BYTES));
  const entries = Array.from({ length: ENTRIES }, (_, i) => content.subarray(i * ENTRY_BYTES, (i + 1) * ENTRY_BYTES));
  return new Packr({ useRecords: false }).pack(entries);
}

export type { Row };

export async function runFramesBench(): Promise<Row[]> {
  const bytes = frame();
  const unpackr = new Unpackr({ useRecords: false });
  const reader = new FrameReader({ maxEntryBytes: 1 << 20, maxEntriesPerFrame: 1 << 16 });
  const spans = new Int32Array(2 * ENTRIES);
  // The push below takes the spans of admission's walk.
  reader.scan(bytes, 0, bytes.length, spans);
  const view = RingView.allocate(1 << 20);
  const producer = new RingProducer(view);
  let sink = 0;

  const shape = `${ENTRIES}×${ENTRY_BYTES} B frame`;
  const bench = new Bench({ time: 500 });
  bench.add(`msgpackr unpack, ${shape}`, () => {
    sink += (unpackr.unpack(bytes) as unknown[]).length;
  });
  bench.add(`FrameReader.scan in place, ${shape}`, () => {
    sink += reader.scan(bytes, 0, bytes.length, spans);
  });
  bench.add(`ring push + visit + release, ${shape}`, () => {
    const from = producer.position;
    if (producer.push(bytes, ENTRIES, 0, 0, spans) < 0) throw new Error('ring full');
    forEachRecord(view, from, producer.position, (at) => {
      sink += view.entryCount(at);
    });
    view.storeReleased(producer.position);
  });
  await bench.run();
  if (sink === 0) throw new Error('nothing was measured');
  return rowsOf(bench);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runFramesBench());
}
