// The RFC 9162 tree checks of the client, written from the RFC (and
// docs/protocol.md §8.3, §13), independent of src/ledger's code: an audit
// path's root (§2.1.3.2) and a consistency proof (§2.1.4.2). The path walk is
// a generator yielding each SHA-256 it needs, so a page can answer with
// WebCrypto; the consistency check is synchronous, with @noble/hashes.
import { sha256 } from '@noble/hashes/sha2';
import { HASH_BYTES, MERKLE_LEAF_PREFIX, MERKLE_NODE_PREFIX } from '../protocol/index.js';
import { concat, equal } from './bytes.js';

/** Hash requests go out as the parts to concatenate; the answer comes back as the digest. */
export type HashWalk<T> = Generator<Uint8Array[], T, Uint8Array>;

const NODE = new Uint8Array([MERKLE_NODE_PREFIX]);
const LEAF = new Uint8Array([MERKLE_LEAF_PREFIX]);

/** RFC 9162 §2.1.3.2: the root `path` leads to from `leaf` at `index` in a tree of `size` (null when it cannot fit). */
export function* rootFromPath(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): HashWalk<Uint8Array | null> {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = yield [NODE, p, r];
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = yield [NODE, r, p];
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** Runs a hash walk with @noble/hashes. */
export function runWalk<T>(walk: HashWalk<T>): T {
  let request = walk.next();
  while (!request.done) request = walk.next(sha256(concat(request.value)));
  return request.value;
}

/** The root an audit path leads to from 32-byte leaf data (null when it cannot fit), synchronously. */
export function pathRoot(leafData: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Uint8Array | null {
  return runWalk(rootFromPath(sha256(concat([LEAF, leafData])), index, size, path));
}

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concat([NODE, left, right]));
}

/**
 * RFC 9162 §2.1.4.2: why `path` does not prove the tree of `from` leaves with
 * root `fromRoot` a prefix of the tree of `to` leaves with root `toRoot`, or
 * null when it does. A tree of 0 leaves is a prefix of any (empty path); equal
 * sizes need equal roots and an empty path.
 */
export function consistencyProblem(from: number, to: number, fromRoot: Uint8Array, toRoot: Uint8Array, path: readonly Uint8Array[]): string | null {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < 0) return 'sizes are not non-negative integers';
  if (from > to) return `the older size ${from} is larger than the newer ${to}`;
  if (fromRoot.length !== HASH_BYTES || toRoot.length !== HASH_BYTES) return 'a root is not 32 bytes';
  if (path.some((p) => p.length !== HASH_BYTES)) return 'the consistency path holds something other than 32-byte hashes';
  if (from === to) {
    if (path.length !== 0) return 'a proof between equal sizes must be empty';
    return equal(fromRoot, toRoot) ? null : `two different roots for the same size ${from}`;
  }
  if (from === 0) return path.length === 0 ? null : 'a proof from size 0 must be empty';
  if (path.length === 0) return 'the consistency path is empty';
  const nodes = (from & (from - 1)) === 0 ? [fromRoot, ...path] : [...path];
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0) return 'the consistency path is too long';
    if (fn % 2 === 1 || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return 'the consistency path is too short';
  if (!equal(fr, fromRoot)) return `the consistency path does not reproduce the root of size ${from}`;
  if (!equal(sr, toRoot)) return `the consistency path does not reproduce the root of size ${to}`;
  return null;
}
