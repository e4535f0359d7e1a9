// A ledger reader (a piscina worker). Serving a proof means reading the whole
// entry block out of lmdb (up to ~15 MB for a full block: lmdb-js copies values
// under 16 MiB), hashing a chunk and checking the paths, about 1.7 ms; done on
// the front door thread, every proof request would stall ingest for that long.
// The answer comes back as a JSON string, or null when there is nothing there.
import { workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { THREAD_NAMES, system } from '../native/index.js';
import { Ledger } from './store.js';
import type { BinaryReadTask, LedgerReadTask, LedgerReaderData } from './reader-messages.js';
import type { ShippedSealAnswer } from './readers.js';

const data = workerData as LedgerReaderData;
const packr = new Packr({ useRecords: false });
system.nameThread(THREAD_NAMES.reader);
const ledger = await Ledger.open(data.dataDir, { readOnly: true });

export default function read(task: LedgerReadTask): string | Uint8Array | ShippedSealAnswer | null {
  if (task.kind === 'export') return packr.pack(ledger.exportBlocks(task.chain, task.from, task.maxBytes, task.self));
  if (task.kind === 'hashes') return ledger.entryHashes(task.chain, task.seq, task.count);
  if (task.kind === 'seal') return movedSeal({ seal: ledger.shippedSeal(task.height), sealedHeight: ledger.sealedHeight() });
  const found = answer(task);
  return found === null ? null : JSON.stringify(found);
}

/**
 * A seal for shipping, its records handed over rather than copied: each is a
 * buffer of its own, read out of lmdb for this answer, so the front door's
 * thread receives them without a copy (a seal is megabytes, and every copy
 * there was garbage for its collector). Buffers that share memory with others
 * (small ones cut from a pool) are copied as usual.
 */
function movedSeal(answer: ShippedSealAnswer): ShippedSealAnswer {
  const seal = answer.seal;
  if (seal === null) return answer;
  const views = [seal.directory, seal.head, seal.frameIds, ...seal.blocks.map((b) => b.record)];
  const own = new Set<ArrayBuffer>();
  for (const view of views) {
    if (view !== null && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) own.add(view.buffer);
  }
  return move({ [transferableSymbol]: [...own], [valueSymbol]: answer }) as unknown as ShippedSealAnswer;
}

function answer(task: Exclude<LedgerReadTask, BinaryReadTask>): unknown {
  switch (task.kind) {
    case 'entry':
      return ledger.entryProof(task.chain, task.seq, task.headSize);
    case 'block':
      return ledger.block(task.chain, task.height);
    case 'directory':
      return ledger.directoryBlock(task.height);
    case 'anchors':
      return { anchors: ledger.anchors(task.from, task.limit) };
    case 'head':
      return ledger.signedHead(task.size);
    case 'consistency':
      return ledger.logConsistency(task.from, task.to);
    case 'inclusion':
      return ledger.logInclusion(task.height, task.size);
  }
}
