// The anchor thread: runs the Ethereum anchor loop and answers the front door's
// questions about windows (proof parts, listings). A thread of its own, so the
// JSON-RPC traffic, signing and tree building never run on the front door's
// thread, which carries ingest, nor on the sealer's, whose seals it only reads.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import type { Hex } from 'viem';
import { Ledger } from '../ledger/index.js';
import { THREAD_NAMES, system } from '../native/index.js';
import type { AnchorProof, AnchorWindowView } from '../protocol/index.js';
import { AnchorLoop } from './anchor-loop.js';
import { costView, type CostView } from './costs.js';
import { EthereumNode } from './ethereum.js';
import type { AnchorQuery, AnchorThreadData, FromAnchorThread, ToAnchorThread } from './types.js';
import { WindowTree } from './window-tree.js';
import { WindowStore, type WindowRecord } from './window-store.js';

/** Trees of recent windows kept for proof requests: the newest windows are asked for most. */
const TREE_CACHE = 8;
/** Days of costs `GET /v1/anchors/windows` lists. */
const COST_DAYS = 31;

const port = parentPort!;
const data = workerData as AnchorThreadData;
system.nameThread(THREAD_NAMES.anchor);
const post = (message: FromAnchorThread): void => port.postMessage(message);

const ledger = await Ledger.open(data.dataDir, { readOnly: true });
const store = new WindowStore(ledger.environment);
const gateway = createHash('sha256')
  .update(await store.identity())
  .digest();
const node = new EthereumNode(data.settings.rpcUrl, data.privateKey as Hex, data.settings.rpcTimeoutMs);
const trees = new Map<number, WindowTree>();

const loop = new AnchorLoop({
  settings: data.settings,
  node,
  store,
  gateway,
  faults: data.faults,
  directories: (from, limit) => ledger.anchors(from, limit),
  entries: (first, last) => {
    let entries = 0;
    for (let height = first; height <= last; height++) entries += ledger.directoryEntryCount(height) ?? 0;
    return entries;
  },
  report: (status) => post({ type: 'status', status }),
  event: (event, message, fields) => post({ type: 'event', event, message, fields }),
});

port.on('message', (message: ToAnchorThread) => {
  if (message.type === 'stop') {
    void stop();
    return;
  }
  try {
    const found = answer(message.query);
    post({ type: 'answer', id: message.id, json: found === null ? null : JSON.stringify(found) });
  } catch (error) {
    post({ type: 'answer', id: message.id, json: null, error: error instanceof Error ? error.message : String(error) });
  }
});

loop.start();
post({ type: 'ready' });

async function stop(): Promise<void> {
  await loop.stop();
  await ledger.close();
  post({ type: 'stopped' });
  port.close();
}

function answer(query: AnchorQuery): unknown {
  switch (query.kind) {
    case 'proof':
      return proofPart(query.height);
    case 'windows':
      return { windows: store.list(query.from, query.limit).map(windowView), costs: costs() };
    case 'overlapping':
      return store.overlapping(query.from, query.to, query.limit).map(windowView);
  }
}

/** The `anchor` part of a proof for directory `height`, or null until its window is confirmed. */
function proofPart(height: number): AnchorProof | null {
  const window = store.holding(height);
  if (window === undefined || window.state !== 'confirmed' || window.blockNumber === null || window.blockHash === null) return null;
  const tree = treeOf(window);
  return {
    network: window.network,
    networkId: window.networkId,
    window: {
      first: window.first,
      last: window.last,
      index: height - window.first,
      count: window.count,
      path: tree.path(height).map((p) => p.toString('hex')),
      root: window.root,
    },
    tx: window.tx,
    blockNumber: window.blockNumber,
    blockHash: window.blockHash,
    gateway: gateway.toString('hex'),
  };
}

function treeOf(window: WindowRecord): WindowTree {
  const cached = trees.get(window.first);
  if (cached !== undefined) return cached;
  const hashes: Buffer[] = [];
  while (hashes.length < window.count) {
    const page = ledger.anchors(window.first + hashes.length, window.count - hashes.length);
    if (page.length === 0) break;
    for (const directory of page) hashes.push(Buffer.from(directory.hash, 'hex'));
  }
  const tree = new WindowTree(window.first, hashes);
  if (tree.count !== window.count || tree.root.toString('hex') !== window.root) {
    throw new Error(`anchor window ${window.first}…${window.last}: the store's directory hashes do not give the window's root`);
  }
  if (trees.size >= TREE_CACHE) trees.delete(trees.keys().next().value!);
  trees.set(window.first, tree);
  return tree;
}

function windowView(window: WindowRecord): AnchorWindowView {
  const { from: _from, attempts, ...view } = window;
  return { ...view, attempts: attempts.map(({ raw: _raw, gas: _gas, ...attempt }) => attempt) };
}

/** The cost figures of `GET /v1/anchors/windows`: all confirmed windows, and each of the last days that had any. */
function costs(): { total: CostView; days: Array<CostView & { day: string }> } {
  return { total: costView(store.totalCosts()), days: store.dailyCosts(COST_DAYS).map(({ day, ...totals }) => ({ day, ...costView(totals) })) };
}
