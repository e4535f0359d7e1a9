// Micro-benchmark of the lane workers' hot path: batch SHA-256 of entries sitting in a
// SharedArrayBuffer, and block Merkle roots. Native addon vs node:crypto / the JS fallback.
// Run: npm run build && node dist/bench/micro/hashing.js
import { createHash, randomFillSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { jsAddon, nativeAddon, nativeLoadError } from '../../src/native/index.js';
import { rowsOf, type Row } from './rows.js';

const ENTRIES = 64;
const ENTRY_BYTES = 200;

export type { Row };

export async function runHashingBench(): Promise<Row[]> {
  const native = nativeAddon();
  if (native === null) console.warn(`native addon unavailable (${nativeLoadError ?? '?'}): native rows omitted`);

  const src = new Uint8Array(new SharedArrayBuffer(ENTRIES * ENTRY_BYTES));
  randomFillSync(src);
  const spans = new Int32Array(2 * ENTRIES);
  for (let i = 0; i < ENTRIES; i++) spans.set([i * ENTRY_BYTES, ENTRY_BYTES], 2 * i);
  const dst = new Uint8Array(new SharedArrayBuffer(32 * ENTRIES));
  const hashes = randomFillSync(new Uint8Array(32 * 65536));

  const batch = `${ENTRIES}×${ENTRY_BYTES} B`;
  const fast = new Bench({ time: 500 });
  if (native) fast.add(`sha256Spans native, ${batch}`, () => native.sha256Spans(src, spans, ENTRIES, dst, 0));
  fast.add(`createHash per entry, ${batch}`, () => {
    for (let i = 0; i < ENTRIES; i++) {
      dst.set(
        createHash('sha256')
          .update(src.subarray(i * ENTRY_BYTES, (i + 1) * ENTRY_BYTES))
          .digest(),
        32 * i,
      );
    }
  });
  if (native) fast.add('merkleRoot native, 64 leaves', () => native.merkleRoot(hashes, 64));
  fast.add('merkleRoot js, 64 leaves', () => jsAddon.merkleRoot(hashes, 64));

  // A JS root over 65,536 leaves takes ~0.1 s, so this group runs a fixed small count.
  const large = new Bench({ time: 0, iterations: 10, warmupTime: 0, warmupIterations: 2 });
  if (native) large.add('merkleRoot native, 65536 leaves', () => native.merkleRoot(hashes, 65536));
  large.add('merkleRoot js, 65536 leaves', () => jsAddon.merkleRoot(hashes, 65536));

  await fast.run();
  await large.run();
  return [...rowsOf(fast), ...rowsOf(large)];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runHashingBench();
  console.table(result.map((r) => ({ name: r.name, 'ops/s': Math.round(r.opsPerSec), 'ns/op': Math.round(r.nsPerOp) })));
}
