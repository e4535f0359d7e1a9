// Hashed entries the sealer copied out of the lane rings and holds until
// their block is durable.
//
// Each chain has a backlog: its entries in seq order, back to back in
// segments taken from one pool and given back once durable
// (backlog-segments.ts), so steady ingest touches only warm memory and never
// moves an entry once copied. Entry contents are gathered out of a ring record
// in one native call. A block's record (chunk roots, hashes, ends, contents) is
// built into a seal arena reused from one seal to the next, in one native call
// per block, straight from the segments that hold it.
//
// A chain's frames can reach the sealer out of order once it changed lane
// (its older frames may still sit in the old lane's ring); such a frame waits
// in a side list, with its own copy, until the gap before it is filled.
import type { RingView } from '../ring/index.js';
import { HASH_BYTES } from '../protocol/index.js';
import { hashing } from '../native/index.js';
import { prepareBlockRecord, type BlockPiece, type PreparedRecord } from '../ledger/index.js';
import { setChainPendingBytes } from './control.js';
import { SegmentPool, segmentCapacityFor, type Segment } from './backlog-segments.js';

/** What the backlog counts per entry besides its content: its hash and its end offset. */
const ENTRY_OVERHEAD_BYTES = HASH_BYTES + Uint32Array.BYTES_PER_ELEMENT;
/** Idle segments kept for reuse when the owner does not say (tests). */
const DEFAULT_MAX_IDLE_BYTES = 64 * 1024 * 1024;

/** One frame's entries, copied; for frames that arrived ahead of a gap. */
interface Early {
  firstSeq: number;
  count: number;
  contents: Uint8Array;
  spans: Int32Array;
  hashes: Uint8Array;
}

class ChainBacklog {
  /** Seq of the first entry not released. */
  firstSeq: number;
  private next: number;
  /** In seq order; the first may be partly released (its `head`). */
  private readonly segments: Segment[] = [];
  private liveContentBytes = 0;
  private liveEntries = 0;
  private readonly pool: SegmentPool;
  /**
   * Frames that arrived before the ones in front of them (a chain that moved to
   * another lane can have newer frames in that lane's ring before older ones
   * leave the old ring), by first seq: frames are contiguous, so the next one
   * to take is always the one starting at nextSeq.
   */
  private readonly early = new Map<number, Early>();
  private earlyBytes = 0;

  constructor(firstSeq: number, pool: SegmentPool) {
    this.firstSeq = firstSeq;
    this.next = firstSeq;
    this.pool = pool;
  }

  get nextSeq(): number {
    return this.next;
  }

  /** Nothing held, nothing early: every seq it saw is durable. */
  get empty(): boolean {
    return this.firstSeq === this.next && this.early.size === 0;
  }

  /** Bytes held: contents plus ENTRY_OVERHEAD_BYTES per entry, early frames included. */
  get bytes(): number {
    return this.liveContentBytes + this.liveEntries * ENTRY_OVERHEAD_BYTES + this.earlyBytes;
  }

  /** Appends a ring record's entries; returns false if the record's seqs are already here (a bug upstream). */
  add(view: RingView, at: number): boolean {
    const seq = view.firstSeq(at);
    const count = view.entryCount(at);
    const spans = new Int32Array(view.sab, view.spansStart(at), count * 2);
    if (seq < this.nextSeq) return false;
    if (seq > this.nextSeq) {
      this.keepEarly(view.u8, spans, count, seq, view.hashesStart(at));
      return true;
    }
    this.append(view.u8, spans, count, view.frameBytes(at), view.u8, view.hashesStart(at));
    this.takeEarly();
    return true;
  }

  covers(firstSeq: number, endSeq: number): boolean {
    return firstSeq >= this.firstSeq && endSeq <= this.nextSeq;
  }

  /**
   * Builds the record of entries [firstSeq, endSeq) in the arena, in one native
   * call (ledger/prepared.ts) straight from the segments that hold them: a
   * block spanning segments (a full heavy block spans four of 4 MiB) is not
   * copied into one place first.
   */
  buildBlock(firstSeq: number, endSeq: number, arena: SealArena): PreparedRecord {
    const pieces: BlockPiece[] = [];
    for (let s = this.segmentIndexOf(firstSeq); s < this.segments.length && this.segments[s]!.firstSeq < endSeq; s++) {
      const segment = this.segments[s]!;
      const i0 = Math.max(firstSeq, segment.firstSeq) - segment.firstSeq;
      const i1 = Math.min(endSeq, segment.endSeq) - segment.firstSeq;
      pieces.push({
        count: i1 - i0,
        hashes: segment.hashes.subarray(i0 * HASH_BYTES, i1 * HASH_BYTES),
        ends: segment.ends.subarray(i0, i1),
        contentStart: segment.contentStart(i0),
        contents: segment.contents,
      });
    }
    return prepareBlockRecord(pieces, arena.alloc);
  }

  /** Drops entries below endSeq; segments left empty go back to the pool. */
  release(endSeq: number): void {
    const end = Math.min(endSeq, this.next);
    if (end <= this.firstSeq) return;
    while (this.segments.length > 0 && this.segments[0]!.endSeq <= end) {
      const segment = this.segments.shift()!;
      this.drop(segment, segment.count);
      this.pool.give(segment);
    }
    if (this.segments.length > 0) this.drop(this.segments[0]!, end - this.segments[0]!.firstSeq);
    this.firstSeq = end;
  }

  /** Moves a segment's head to entry `head`, uncounting what it passes. */
  private drop(segment: Segment, head: number): void {
    if (head <= segment.head) return;
    this.liveContentBytes -= segment.contentStart(head) - segment.contentStart(segment.head);
    this.liveEntries -= head - segment.head;
    segment.head = head;
  }

  private segmentIndexOf(seq: number): number {
    for (let s = 0; s < this.segments.length; s++) if (seq < this.segments[s]!.endSeq) return s;
    throw new RangeError(`sealer: seq ${seq} is not in the backlog [${this.firstSeq}, ${this.next})`);
  }

  /** `maxBytes` bounds the spans' total (a frame's size does): room is made for that much, unmeasured. */
  private append(src: Uint8Array, spans: Int32Array, count: number, maxBytes: number, hashSrc: Uint8Array, hashesAt: number): void {
    let segment = this.segments[this.segments.length - 1];
    if (segment === undefined || !segment.fits(count, maxBytes)) {
      segment = this.pool.take(segmentCapacityFor(count, maxBytes, this.bytes), this.next);
      this.segments.push(segment);
    }
    // One native call copies the contents and writes each entry's end: no JS per entry.
    const copied = hashing.gatherSpans(src, spans, count, segment.contents, segment.contentBytes, segment.ends, segment.count);
    // Not TypedArray#set: out of shared memory V8 copies byte by byte unless both sides are equally aligned.
    hashing.copyBytes(hashSrc, hashesAt, count * HASH_BYTES, segment.hashes, segment.count * HASH_BYTES);
    segment.count += count;
    this.next += count;
    this.liveContentBytes += copied;
    this.liveEntries += count;
  }

  private keepEarly(src: Uint8Array, spans: Int32Array, count: number, firstSeq: number, hashesAt: number): void {
    let bytes = 0;
    const own = new Int32Array(count * 2);
    for (let i = 0; i < count; i++) {
      own[2 * i] = bytes;
      own[2 * i + 1] = spans[2 * i + 1]!;
      bytes += spans[2 * i + 1]!;
    }
    const contents = new Uint8Array(bytes);
    hashing.gatherSpans(src, spans, count, contents, 0);
    const hashes = src.slice(hashesAt, hashesAt + count * HASH_BYTES);
    this.early.set(firstSeq, { firstSeq, count, contents, spans: own, hashes });
    this.earlyBytes += earlyCost(contents, count);
  }

  private takeEarly(): void {
    for (let e = this.early.get(this.nextSeq); e !== undefined; e = this.early.get(this.nextSeq)) {
      this.early.delete(e.firstSeq);
      this.earlyBytes -= earlyCost(e.contents, e.count);
      this.append(e.contents, e.spans, e.count, e.contents.byteLength, e.hashes, 0);
    }
  }
}

function earlyCost(contents: Uint8Array, count: number): number {
  return contents.byteLength + count * ENTRY_OVERHEAD_BYTES;
}

function capacityFor(needed: number, current: number): number {
  let cap = current;
  while (cap < needed) cap *= 2;
  return cap;
}

/**
 * The memory of one seal's block records. lmdb copies each record in its put,
 * inside the seal's transaction, and the sealer seals one cut at a time, so
 * the same memory serves every seal: no fresh pages (a page fault and a page
 * clear per 4 KiB) per seal. When a seal needs more than there is, a larger
 * buffer replaces it; records already taken keep the old one alive.
 */
export class SealArena {
  private memory = new Uint8Array(64 * 1024);
  private used = 0;

  /** Starts a new seal: every record taken before must no longer be in use. */
  reset(): void {
    this.used = 0;
  }

  /** `take`, bound: what prepareBlockRecord is handed, with no closure per block. */
  readonly alloc = (bytes: number): Uint8Array => this.take(bytes);

  take(bytes: number): Uint8Array {
    if (this.used + bytes > this.memory.length) {
      this.memory = new Uint8Array(capacityFor(this.used + bytes, this.memory.length));
      this.used = 0;
    }
    const at = this.used;
    // 8-aligned, so each record starts on a word: memcpy into it is no slower for the offset.
    this.used = at + bytes + ((8 - (bytes % 8)) % 8);
    return this.memory.subarray(at, at + bytes);
  }
}

export interface PendingEntriesOptions {
  /** The chain backlog admission reads in another thread (control.ts); null: not shared. */
  perChain?: Int32Array | null;
  /** Idle backlog segments kept for reuse, in bytes. */
  maxIdleBytes?: number;
}

export class PendingEntries {
  private readonly chains = new Map<number, ChainBacklog>();
  private readonly pool: SegmentPool;
  /** Kept up to date on every add and release, so reading it costs nothing per chain. */
  bytes = 0;
  /** The chain backlog admission reads in another thread (control.ts; null: not shared). */
  private readonly perChain: Int32Array | null;

  constructor(options: PendingEntriesOptions = {}) {
    this.perChain = options.perChain ?? null;
    this.pool = new SegmentPool(options.maxIdleBytes ?? DEFAULT_MAX_IDLE_BYTES);
  }

  /** Idle segments held for reuse: memory the backlog holds beyond `bytes`. */
  get idleBytes(): number {
    return this.pool.heldBytes;
  }

  /**
   * A chain's entries start at `nextSeq` (its first seq not yet durable). A
   * chain known already and holding nothing may be moved on to a later seq:
   * blocks adopted from another gateway of a fleet filled the seqs between.
   */
  register(slot: number, nextSeq: number): void {
    const known = this.chains.get(slot);
    if (known === undefined || (known.empty && nextSeq > known.nextSeq)) this.chains.set(slot, new ChainBacklog(nextSeq, this.pool));
  }

  /**
   * A truncation (Ledger.truncateUnreplicated) took a chain's head back to
   * `nextSeq`: its entries start there again. Only for a chain holding
   * nothing — a chain being served has no sealed tail to lose. False when it
   * holds entries (nothing changed); true when done or the chain is unknown.
   */
  rewind(slot: number, nextSeq: number): boolean {
    const known = this.chains.get(slot);
    if (known === undefined) return true;
    if (!known.empty) return false;
    this.chains.set(slot, new ChainBacklog(nextSeq, this.pool));
    return true;
  }

  known(slot: number): boolean {
    return this.chains.has(slot);
  }

  /** Copies the frame record at `at` out of the ring; false when its chain is not registered yet. */
  copyRecord(view: RingView, at: number): boolean {
    const backlog = this.chains.get(view.chainSlot(at));
    if (backlog === undefined) return false;
    const before = backlog.bytes;
    if (!backlog.add(view, at)) throw new Error(`sealer: seq ${view.firstSeq(at)} of chain slot ${view.chainSlot(at)} arrived twice`);
    this.account(view.chainSlot(at), backlog, before);
    return true;
  }

  covers(slot: number, firstSeq: number, endSeq: number): boolean {
    return this.chains.get(slot)?.covers(firstSeq, endSeq) ?? false;
  }

  buildBlock(slot: number, firstSeq: number, endSeq: number, arena: SealArena): PreparedRecord {
    const backlog = this.chains.get(slot);
    if (backlog === undefined) throw new Error(`sealer: no entries for chain slot ${slot}`);
    return backlog.buildBlock(firstSeq, endSeq, arena);
  }

  release(slot: number, endSeq: number): void {
    const backlog = this.chains.get(slot);
    if (backlog === undefined) return;
    const before = backlog.bytes;
    backlog.release(endSeq);
    this.account(slot, backlog, before);
  }

  private account(slot: number, backlog: ChainBacklog, before: number): void {
    const now = backlog.bytes;
    this.bytes += now - before;
    if (this.perChain !== null) setChainPendingBytes(this.perChain, slot, now);
  }
}
