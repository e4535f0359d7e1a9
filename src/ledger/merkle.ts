// Merkle trees of RFC 6962 / RFC 9162 §2.1: leaf = SHA-256(0x00 ‖ data),
// node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below n.
// Pure JavaScript over node:crypto; the store may swap in a native root function
// (see roots.ts) but these stay the reference the tests check against.
import { MERKLE_LEAF_PREFIX, MERKLE_NODE_PREFIX } from '../protocol/index.js';
import { HASH_BYTES, sha256 } from './hash.js';

/** Root of a tree over `n` consecutive 32-byte leaf data items. */
export type RootFunction = (leafData32: Uint8Array, n: number) => Buffer;

const leafScratch = Buffer.alloc(1 + HASH_BYTES);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_BYTES);
leafScratch[0] = MERKLE_LEAF_PREFIX;
nodeScratch[0] = MERKLE_NODE_PREFIX;

export function leafHash(data: Uint8Array): Buffer {
  if (data.length === HASH_BYTES) {
    leafScratch.set(data, 1);
    return sha256(leafScratch);
  }
  const prefixed = Buffer.allocUnsafe(1 + data.length);
  prefixed[0] = MERKLE_LEAF_PREFIX;
  prefixed.set(data, 1);
  return sha256(prefixed);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    throw new RangeError('merkle: node children must be 32-byte hashes');
  }
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  return sha256(nodeScratch);
}

/** MTH over arbitrary leaf data (RFC 6962 §2.1); the empty tree hashes to SHA-256(""). */
export function treeHash(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  const level = Buffer.allocUnsafe(leaves.length * HASH_BYTES);
  leaves.forEach((data, i) => leafHash(data).copy(level, i * HASH_BYTES));
  return foldLevels(level, leaves.length);
}

/** Root of a block tree: leaf data are the 32-byte entry hashes, n of them. */
export const blockRoot: RootFunction = (leafData32, n) => {
  checkLeafData(leafData32, n);
  if (n === 0) return sha256(new Uint8Array(0));
  const level = Buffer.allocUnsafe(n * HASH_BYTES);
  for (let i = 0; i < n; i++) {
    leafHash(leafData32.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)).copy(level, i * HASH_BYTES);
  }
  return foldLevels(level, n);
};

/**
 * Root of the RFC tree whose bottom level is already `n` node hashes (no leaf
 * prefix): the upper part of a block tree above its chunk roots. n = 1 is the node itself.
 */
export const nodesRoot: RootFunction = (nodes32, n) => {
  checkLeafData(nodes32, n);
  if (n === 0) throw new RangeError('merkle: a tree of nodes needs at least one node');
  return foldLevels(Buffer.from(nodes32.subarray(0, n * HASH_BYTES)), n);
};

// Pairing bottom-up and promoting an odd last node unchanged builds exactly the
// RFC's split-at-power-of-two tree, without recursion and in one buffer.
function foldLevels(level: Buffer, n: number): Buffer {
  let width = n;
  while (width > 1) {
    const pairs = Math.floor(width / 2);
    for (let i = 0; i < pairs; i++) {
      const left = level.subarray(2 * i * HASH_BYTES, (2 * i + 1) * HASH_BYTES);
      const right = level.subarray((2 * i + 1) * HASH_BYTES, (2 * i + 2) * HASH_BYTES);
      nodeHash(left, right).copy(level, i * HASH_BYTES);
    }
    if (width % 2 === 1) level.copyWithin(pairs * HASH_BYTES, (width - 1) * HASH_BYTES, width * HASH_BYTES);
    width = Math.ceil(width / 2);
  }
  return Buffer.from(level.subarray(0, HASH_BYTES));
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * RFC 6962 PATH(index, D[0:n]) over 32-byte leaf data, leaf side first.
 * Each element is the root of a sibling subtree, so `rootOf` (JS or native) does
 * all the hashing in log n calls.
 */
export function auditPath(leafData32: Uint8Array, n: number, index: number, rootOf: RootFunction = blockRoot): Buffer[] {
  checkLeafData(leafData32, n);
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`merkle: index ${index} outside a tree of ${n} leaves`);
  }
  const fromRoot: Buffer[] = [];
  let lo = 0;
  let hi = n;
  while (hi - lo > 1) {
    const mid = lo + splitPoint(hi - lo);
    if (index < mid) {
      fromRoot.push(rangeRoot(leafData32, mid, hi, rootOf));
      hi = mid;
    } else {
      fromRoot.push(rangeRoot(leafData32, lo, mid, rootOf));
      lo = mid;
    }
  }
  return fromRoot.reverse();
}

function rangeRoot(leafData32: Uint8Array, start: number, end: number, rootOf: RootFunction): Buffer {
  return rootOf(leafData32.subarray(start * HASH_BYTES, end * HASH_BYTES), end - start);
}

/**
 * The root an audit path leads to (RFC 9162 §2.1.3.2), or null when the path
 * cannot belong to a tree of `size` leaves at `index`.
 */
export function rootFromAuditPath(leafHash32: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  if (leafHash32.length !== HASH_BYTES) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash32);
  for (const p of path) {
    if (sn === 0 || p.length !== HASH_BYTES) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** RFC 9162 §2.1.3.2: does `path` prove `leafHash32` at `index` in a tree of `size` with `root`? */
export function verifyAuditPath(leafHash32: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  const computed = rootFromAuditPath(leafHash32, index, size, path);
  return computed !== null && root.length === HASH_BYTES && computed.equals(root);
}

function checkLeafData(leafData32: Uint8Array, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || leafData32.length < n * HASH_BYTES) {
    throw new RangeError(`merkle: ${leafData32.length} bytes cannot hold ${n} 32-byte leaves`);
  }
}
