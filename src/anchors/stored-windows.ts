// A store's confirmed anchor windows as anchor parts, each root recomputed from
// the store's own directory hashes: what `chainlanes verify --data DIR
// --anchors RPC_URL` then checks transaction by transaction on the node.
import { createHash } from 'node:crypto';
import { Ledger } from '../ledger/index.js';
import type { AnchorProof } from '../protocol/index.js';
import { WindowTree } from './window-tree.js';
import { WindowStore } from './window-store.js';

const PAGE = 1000;

export interface StoredWindows {
  /** Windows not yet confirmed (not checked on chain). */
  pending: number;
  /** One anchor part per confirmed window, for its first directory (path included). */
  confirmed: AnchorProof[];
  /** The first window whose root the store's directory hashes do not give, if any. */
  broken: string | null;
}

export async function storedWindows(dataDir: string): Promise<StoredWindows> {
  const ledger = await Ledger.open(dataDir, { readOnly: true });
  try {
    const store = new WindowStore(ledger.environment);
    const identity = store.storedIdentity();
    const out: StoredWindows = { pending: 0, confirmed: [], broken: null };
    if (identity === undefined) return out;
    const gateway = createHash('sha256').update(identity).digest('hex');
    for (let from = 0; ;) {
      const page = store.list(from, PAGE);
      for (const window of page) {
        if (window.state !== 'confirmed' || window.blockNumber === null || window.blockHash === null) {
          out.pending++;
          continue;
        }
        const hashes: Buffer[] = [];
        while (hashes.length < window.count) {
          const found = ledger.anchors(window.first + hashes.length, Math.min(PAGE, window.count - hashes.length));
          if (found.length === 0) break;
          hashes.push(...found.map((d) => Buffer.from(d.hash, 'hex')));
        }
        const tree = hashes.length === window.count ? new WindowTree(window.first, hashes) : null;
        if (tree === null || tree.root.toString('hex') !== window.root) {
          out.broken ??= `anchor window ${window.first}…${window.last}: the store's directory hashes do not give its root ${window.root}`;
          continue;
        }
        out.confirmed.push({
          network: window.network,
          networkId: window.networkId,
          tx: window.tx,
          blockNumber: window.blockNumber,
          blockHash: window.blockHash,
          gateway,
          window: {
            first: window.first,
            last: window.last,
            index: 0,
            count: window.count,
            path: tree.path(window.first).map((p) => p.toString('hex')),
            root: window.root,
          },
        });
      }
      if (page.length < PAGE) return out;
      from = page[page.length - 1]!.first + 1;
    }
  } finally {
    await ledger.close();
  }
}
