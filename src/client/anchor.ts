// An entry proof's `anchor` part: checked offline against the proof's own
// directory hash (anchorProblem, called by verifyEntry), and against an
// Ethereum node (verifyAnchor): the transaction carries exactly the 83-byte
// payload, in a block of the node's canonical chain. Plain fetch JSON-RPC, so
// it runs in browsers too; nothing here trusts the gateway.
import { ANCHOR_MAGIC, ANCHOR_PAYLOAD, HASH_BYTES, ETHEREUM_NETWORK, type AnchorProof, type EntryProof } from '../protocol/index.js';
import { equal, hex } from './bytes.js';

export type { AnchorProof, AnchorWindowProof } from '../protocol/index.js';

/** Reproduces a tree root from 32-byte leaf data, its index, the tree size and an audit path (null when the path cannot fit). */
export type PathRoot = (leafData: Uint8Array, index: number, count: number, path: readonly Uint8Array[]) => Uint8Array | null;

export type AnchorResult = { ok: true; confirmations: number; networkId: number; blockNumber: number } | { ok: false; reason: string };

/** Why the anchor part does not hold for this proof's directory hash, or null when it does. */
export function anchorProblem(proof: EntryProof, anchor: AnchorProof, rootOf: PathRoot): string | null {
  if (proof.directory === undefined) return 'proof has an anchor but no directory part';
  const w = anchor.window;
  if (typeof w !== 'object' || w === null) return 'anchor.window is missing';
  for (const [field, value] of [
    ['first', w.first],
    ['last', w.last],
    ['index', w.index],
    ['count', w.count],
    ['blockNumber', anchor.blockNumber],
    ['networkId', anchor.networkId],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return `anchor ${field} is not a non-negative integer`;
  }
  if (anchor.network !== ETHEREUM_NETWORK) return `anchor network ${JSON.stringify(anchor.network)} is not ${ETHEREUM_NETWORK}`;
  if (w.last < w.first || w.count !== w.last - w.first + 1) return 'anchor window count is not last - first + 1';
  if (w.index !== proof.directory.height - w.first || proof.directory.height > w.last) return 'anchor window does not place the directory at its height';
  const leaf = hex(proof.directory.hash, HASH_BYTES);
  const root = hex(w.root, HASH_BYTES);
  if (leaf === null || root === null || hex(anchor.gateway, HASH_BYTES) === null) return 'anchor root, gateway or directory hash is not 32 bytes of hex';
  if (hex(anchor.tx, HASH_BYTES) === null || hex(anchor.blockHash, HASH_BYTES) === null) return 'anchor tx or blockHash is not 32 bytes of 0x-hex';
  if (!Array.isArray(w.path)) return 'anchor window path is not an array';
  const path: Uint8Array[] = [];
  for (const p of w.path) {
    const node = hex(p, HASH_BYTES);
    if (node === null) return 'anchor window path holds something other than 32-byte hashes';
    path.push(node);
  }
  const computed = rootOf(leaf, w.index, w.count, path);
  if (computed === null) return 'anchor window path does not fit its index and count';
  if (!equal(computed, root)) return 'anchor window path does not reproduce the window root';
  return null;
}

/** The 83 bytes the anchor's transaction must carry. */
export function anchorPayload(anchor: AnchorProof): Uint8Array {
  const at = ANCHOR_PAYLOAD;
  const out = new Uint8Array(at.bytes);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(ANCHOR_MAGIC), at.magic);
  view.setBigUint64(at.first, BigInt(anchor.window.first));
  view.setBigUint64(at.last, BigInt(anchor.window.last));
  out.set(hex(anchor.gateway, HASH_BYTES) ?? new Uint8Array(HASH_BYTES), at.gateway);
  out.set(hex(anchor.window.root, HASH_BYTES) ?? new Uint8Array(HASH_BYTES), at.root);
  return out;
}

/**
 * Checks `proof.anchor` against the Ethereum node at `rpcUrl`: the node is on
 * the proof's network id, the transaction is in the block the proof names, that
 * block is the node's canonical block at its number, and the transaction's data
 * is exactly the payload of the proof's window. Check the rest with verifyEntry.
 */
export async function verifyAnchor(proof: EntryProof, rpcUrl: string, options: { timeoutMs?: number } = {}): Promise<AnchorResult> {
  const anchor = proof.anchor;
  if (anchor === undefined) return { ok: false, reason: 'proof has no anchor part (its directory block is not in a confirmed window yet)' };
  return verifyAnchorTransaction(anchor, rpcUrl, options);
}

/** The on-chain half of verifyAnchor, for an anchor part alone (a whole store's windows, say). */
export async function verifyAnchorTransaction(anchor: AnchorProof, rpcUrl: string, options: { timeoutMs?: number } = {}): Promise<AnchorResult> {
  const rpc = new JsonRpc(rpcUrl, options.timeoutMs ?? 10_000);
  try {
    const chainId = Number(BigInt(await rpc.call<string>('eth_chainId', [])));
    if (chainId !== anchor.networkId) return { ok: false, reason: `the node is on chain id ${chainId}, the anchor on ${anchor.networkId}` };
    const tx = await rpc.call<{ input: string; blockHash: string | null; blockNumber: string | null } | null>('eth_getTransactionByHash', [anchor.tx]);
    if (tx === null) return { ok: false, reason: `the node does not know transaction ${anchor.tx}` };
    if (tx.blockHash === null || tx.blockNumber === null) return { ok: false, reason: `transaction ${anchor.tx} is not in a block` };
    if (tx.blockHash.toLowerCase() !== anchor.blockHash.toLowerCase() || Number(BigInt(tx.blockNumber)) !== anchor.blockNumber) {
      return {
        ok: false,
        reason: `transaction ${anchor.tx} is in block ${Number(BigInt(tx.blockNumber))} (${tx.blockHash}), not the anchor's ${anchor.blockNumber} (${anchor.blockHash})`,
      };
    }
    if (!equal(hex(tx.input, -1) ?? new Uint8Array(0), anchorPayload(anchor)))
      return { ok: false, reason: `transaction ${anchor.tx} does not carry this window's anchor payload` };
    const block = await rpc.call<{ hash: string; transactions: string[] } | null>('eth_getBlockByNumber', [`0x${anchor.blockNumber.toString(16)}`, false]);
    if (block === null || block.hash.toLowerCase() !== anchor.blockHash.toLowerCase())
      return { ok: false, reason: `block ${anchor.blockNumber} of the node's canonical chain is not ${anchor.blockHash}` };
    if (!block.transactions.some((t) => t.toLowerCase() === anchor.tx.toLowerCase()))
      return { ok: false, reason: `block ${anchor.blockHash} does not list transaction ${anchor.tx}` };
    const head = Number(BigInt(await rpc.call<string>('eth_blockNumber', [])));
    return { ok: true, confirmations: head - anchor.blockNumber + 1, networkId: chainId, blockNumber: anchor.blockNumber };
  } catch (error) {
    return { ok: false, reason: `the node at ${rpcUrl} could not be asked: ${error instanceof Error ? error.message : String(error)}` };
  }
}

class JsonRpc {
  private id = 0;
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  async call<T>(method: string, params: unknown[]): Promise<T> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`${method}: HTTP ${response.status}`);
    const body = (await response.json()) as { result?: T; error?: { message?: string } };
    if (body.error !== undefined) throw new Error(`${method}: ${body.error.message ?? JSON.stringify(body.error)}`);
    return body.result as T;
  }
}
