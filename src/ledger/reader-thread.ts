// A ledger reader (a piscina worker). Serving a proof means reading the whole
// entry block out of lmdb (up to ~15 MB for a full block: lmdb-js copies values
// under 16 MiB), hashing a chunk and checking the paths, about 1.7 ms; done on
// the front door thread, every proof request would stall ingest for that long.
// The answer comes back as a JSON string, or null when there is nothing there.
import { workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { THREAD_NAMES, system } from '../native/index.js';
import { Ledger } from './store.js';
import type { BinaryReadTask, LedgerReadTask, LedgerReaderData } from './reader-messages.js';
import type { ShippedSealAnswer } from './readers.js';

const data = workerData as LedgerReaderData;
const packr = new Packr({ useRecords: false });
system.nameThread(THREAD_NAMES.reader);
const ledger = await Ledger.open(data.dataDir, { readOnly: true });

export default function read(task: LedgerReadTask): string | Uint8Array | null {
  if (task.kind === 'export') return packr.pack(ledger.exportBlocks(task.chain, task.from, task.maxBytes, task.self));
  if (task.kind === 'hashes') return ledger.entryHashes(task.chain, task.seq, task.count);
  if (task.kind === 'seal') {
    const answer: ShippedSealAnswer = { seal: ledger.shippedSeal(task.height), sealedHeight: ledger.sealedHeight() };
    return packr.pack(answer);
  }
  const found = answer(task);
  return found === null ? null : JSON.stringify(found);
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
