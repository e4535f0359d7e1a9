// The directory log (docs/protocol.md §13): the sequence of directory hashes
// from height 0, as an RFC 6962 / 9162 Merkle tree whose leaf data are the
// directory hashes. Its tree is kept as the roots of every complete perfect
// subtree ("node (level, index)" covers leaves index·2^level … (index+1)·2^level − 1),
// written in the seal transaction that adds its last leaf: amortised two
// nodes per directory. The writer holds only the frontier (the perfect
// subtrees that make up the current size, at most log2 n of them), so a new
// head's root costs O(log n) hashes, never a rehash of history; proofs read
// O(log n) stored nodes (O(log² n) for the ragged right edge).
import { HASH_BYTES } from './hash.js';
import { leafHash, nodeHash, splitPoint } from './merkle.js';
import { readU64 } from './records.js';

/** One stored node of the log's tree. */
export interface LogNode {
  level: number;
  index: number;
  hash: Buffer;
}

/** The stored node (level, index), or undefined when it is not there. */
export type LogNodeSource = (level: number, index: number) => Buffer | undefined;

/** level u8 ‖ index u64: lmdb's order is by level, then index. */
export const LOG_NODE_KEY_BYTES = 9;

export function logNodeKey(level: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(LOG_NODE_KEY_BYTES);
  key[0] = level;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

export function decodeLogNodeKey(key: Uint8Array): { level: number; index: number } {
  if (key.length !== LOG_NODE_KEY_BYTES) throw new RangeError(`directory log: a node key is ${LOG_NODE_KEY_BYTES} bytes, got ${key.length}`);
  return { level: key[0]!, index: readU64(key, 1) };
}

/** MTH of the empty log. */
const EMPTY_ROOT = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex');

/**
 * The perfect subtrees whose leaves make up the log's first `size` leaves,
 * largest (leftmost) first: one per set bit of `size`. Immutable: append
 * returns the next frontier, so a seal that fails leaves the held one as it was.
 */
export class LogFrontier {
  private constructor(
    readonly size: number,
    private readonly peaks: readonly LogNode[],
  ) {}

  static readonly empty = new LogFrontier(0, []);

  /** The frontier of a log of `size` leaves, from its stored nodes; throws naming a missing one. */
  static load(size: number, node: LogNodeSource): LogFrontier {
    const peaks = peakRanges(size).map(({ level, index }) => {
      const hash = node(level, index);
      if (hash === undefined) throw new Error(`directory log: node (${level}, ${index}) of a log of ${size} is missing`);
      return { level, index, hash };
    });
    return new LogFrontier(size, peaks);
  }

  /** The perfect subtrees, largest first: what `load` needs to make this frontier again. */
  get nodes(): readonly LogNode[] {
    return this.peaks;
  }

  /** Appends one leaf's data (a directory hash): the next frontier, and the nodes it completes (leaf first). */
  append(leafData: Uint8Array): { next: LogFrontier; written: LogNode[] } {
    const peaks = [...this.peaks];
    let carry: LogNode = { level: 0, index: this.size, hash: leafHash(leafData) };
    const written = [carry];
    for (let left = peaks.at(-1); left !== undefined && left.level === carry.level; left = peaks.at(-1)) {
      peaks.pop();
      carry = { level: carry.level + 1, index: left.index / 2, hash: nodeHash(left.hash, carry.hash) };
      written.push(carry);
    }
    peaks.push(carry);
    return { next: new LogFrontier(this.size + 1, peaks), written };
  }

  /** MTH over every leaf: NODE(p0, NODE(p1, … pk)) for the peaks largest first, which is the RFC's split at the largest power of two. */
  root(): Buffer {
    if (this.peaks.length === 0) return Buffer.from(EMPTY_ROOT);
    let root = this.peaks.at(-1)!.hash;
    for (let i = this.peaks.length - 2; i >= 0; i--) root = nodeHash(this.peaks[i]!.hash, root);
    return root;
  }
}

/** The (level, index) of each perfect subtree that makes up `size` leaves, largest first. */
function peakRanges(size: number): { level: number; index: number }[] {
  const out: { level: number; index: number }[] = [];
  let start = 0;
  for (let level = Math.floor(Math.log2(Math.max(size, 1))) + 1; level >= 0; level--) {
    const width = 2 ** level;
    if (start + width <= size) {
      out.push({ level, index: start / width });
      start += width;
    }
  }
  return out;
}

/** Why a proof cannot be made: sizes out of range. The caller names it to the client. */
export class LogRangeError extends RangeError {}

/**
 * Roots and proofs of a log of `size` leaves from its stored nodes. Every range
 * asked of `subtreeRoot` by these proofs is a subtree of the RFC tree (its start
 * a multiple of its split), so each costs one read when perfect and at most
 * log2 n reads on the ragged right edge.
 */
export class LogProofs {
  constructor(
    private readonly node: LogNodeSource,
    readonly size: number,
  ) {}

  /** MTH(D[lo:hi]). */
  subtreeRoot(lo: number, hi: number): Buffer {
    const n = hi - lo;
    if (n <= 0 || lo < 0 || hi > this.size) throw new LogRangeError(`directory log: no leaves ${lo} … ${hi - 1} in a log of ${this.size}`);
    if ((n & (n - 1)) === 0 && lo % n === 0) {
      const level = Math.log2(n);
      const hash = this.node(level, lo / n);
      if (hash === undefined) throw new Error(`directory log: node (${level}, ${lo / n}) is missing`);
      return hash;
    }
    const k = splitPoint(n);
    return nodeHash(this.subtreeRoot(lo, lo + k), this.subtreeRoot(lo + k, hi));
  }

  /** MTH of the first `size` leaves. */
  root(size: number): Buffer {
    this.checkSize(size, 'size');
    return size === 0 ? Buffer.from(EMPTY_ROOT) : this.subtreeRoot(0, size);
  }

  /** RFC 6962 §2.1.1 PATH(index, D[0:size]), leaf side first. */
  inclusion(index: number, size: number): Buffer[] {
    this.checkSize(size, 'size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new LogRangeError(`height ${index} is not in a log of ${size} directory hashes`);
    const fromRoot: Buffer[] = [];
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const mid = lo + splitPoint(hi - lo);
      if (index < mid) {
        fromRoot.push(this.subtreeRoot(mid, hi));
        hi = mid;
      } else {
        fromRoot.push(this.subtreeRoot(lo, mid));
        lo = mid;
      }
    }
    return fromRoot.reverse();
  }

  /** RFC 6962 §2.1.2 PROOF(from, D[0:to]); empty when from is 0 or equals to. */
  consistency(from: number, to: number): Buffer[] {
    this.checkSize(to, 'to');
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new LogRangeError(`from ${from} must be from 0 to ${to} (to)`);
    if (from === 0 || from === to) return [];
    // SUBPROOF(m, D[lo:hi], b), unrolled: the nodes come out root side first.
    const fromRoot: Buffer[] = [];
    let m = from;
    let lo = 0;
    let hi = to;
    let complete = true;
    while (m !== hi - lo) {
      const k = splitPoint(hi - lo);
      if (m <= k) {
        fromRoot.push(this.subtreeRoot(lo + k, hi));
        hi = lo + k;
      } else {
        fromRoot.push(this.subtreeRoot(lo, lo + k));
        lo += k;
        m -= k;
        complete = false;
      }
    }
    if (!complete) fromRoot.push(this.subtreeRoot(lo, hi));
    return fromRoot.reverse();
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size)
      throw new LogRangeError(`${what} ${size} is beyond the log's ${this.size} directory hashes`);
  }
}

/**
 * RFC 9162 §2.1.4.2: does `path` prove the log of `from` leaves with root
 * `fromRoot` a prefix of the log of `to` leaves with root `toRoot`? The
 * ledger's own check of what it serves; the client has an independent one.
 */
export function verifyConsistency(from: number, to: number, fromRoot: Uint8Array, toRoot: Uint8Array, path: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) return false;
  if (from === to) return path.length === 0 && Buffer.compare(fromRoot, toRoot) === 0;
  if (from === 0) return path.length === 0;
  if (path.length === 0 || path.some((p) => p.length !== HASH_BYTES)) return false;
  const nodes = (from & (from - 1)) === 0 ? [fromRoot, ...path] : [...path];
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(nodes[0]!);
  let sr: Buffer = Buffer.from(nodes[0]!);
  for (const c of nodes.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}
