// Hashed entries the sealer copied out of the lane rings and holds until
// their block is durable.
//
// Each chain has a backlog: its entries in seq order, back to back in buffers
// that are compacted in place and reused, so steady ingest allocates nothing
// per frame (fresh memory costs a page fault and a page clear per 4 KiB, which
// profiling showed to be a seventh of the gateway's CPU). Entry contents are
// gathered out of a ring record in one native call. A block's record (chunk
// roots, hashes, ends, contents) is built from the backlog straight into a seal
// arena reused from one seal to the next, in one native call per block.
//
// A chain's frames can reach the sealer out of order once it changed lane
// (its older frames may still sit in the old lane's ring); such a frame waits
// in a side list, with its own copy, until the gap before it is filled.
import type { RingView } from '../ring/index.js';
import { HASH_BYTES } from '../protocol/index.js';
import { hashing } from '../native/index.js';
import { prepareBlockRecord, type PreparedRecord } from '../ledger/index.js';
import { setChainPendingBytes } from './control.js';

/** What the backlog counts per entry besides its content: its hash and its end offset. */
const ENTRY_OVERHEAD_BYTES = HASH_BYTES + Uint32Array.BYTES_PER_ELEMENT;

/** One frame's entries, copied; for frames that arrived ahead of a gap. */
interface Early {
  firstSeq: number;
  count: number;
  contents: Uint8Array;
  spans: Int32Array;
  hashes: Uint8Array;
}

class ChainBacklog {
  /** Seq of the entry at `head`. */
  firstSeq: number;
  private head = 0;
  private tail = 0;
  private contentHead = 0;
  private contentTail = 0;
  /** ends[i]: where entry i's content ends in `contents` (absolute). */
  private ends = new Uint32Array(256);
  private hashes = new Uint8Array(256 * HASH_BYTES);
  private contents = new Uint8Array(64 * 1024);
  /**
   * Frames that arrived before the ones in front of them (a chain that moved to
   * another lane can have newer frames in that lane's ring before older ones
   * leave the old ring), by first seq: frames are contiguous, so the next one
   * to take is always the one starting at nextSeq.
   */
  private readonly early = new Map<number, Early>();
  private earlyBytes = 0;

  constructor(firstSeq: number) {
    this.firstSeq = firstSeq;
  }

  get nextSeq(): number { return this.firstSeq + this.tail - this.head; }

  /** Bytes held: contents plus ENTRY_OVERHEAD_BYTES per entry, early frames included. */
  get bytes(): number {
    return this.contentTail - this.contentHead + (this.tail - this.head) * ENTRY_OVERHEAD_BYTES + this.earlyBytes;
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

  /** Builds the record of entries [firstSeq, endSeq) in the arena, in one native call (ledger/prepared.ts). */
  buildBlock(firstSeq: number, endSeq: number, arena: SealArena): PreparedRecord {
    const i0 = this.head + firstSeq - this.firstSeq;
    const i1 = this.head + endSeq - this.firstSeq;
    return prepareBlockRecord({
      count: i1 - i0,
      hashes: this.hashes.subarray(i0 * HASH_BYTES, i1 * HASH_BYTES),
      ends: this.ends.subarray(i0, i1),
      contentStart: i0 === this.head ? this.contentHead : this.ends[i0 - 1]!,
      contents: this.contents,
    }, (bytes) => arena.take(bytes));
  }

  /** Drops entries below endSeq. */
  release(endSeq: number): void {
    const drop = Math.min(endSeq - this.firstSeq, this.tail - this.head);
    if (drop <= 0) return;
    this.contentHead = this.ends[this.head + drop - 1]!;
    this.head += drop;
    this.firstSeq += drop;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      this.contentHead = this.contentTail = 0;
    }
  }

  /** `maxBytes` bounds the spans' total (a frame's size does): room is made for that much, unmeasured. */
  private append(src: Uint8Array, spans: Int32Array, count: number, maxBytes: number, hashSrc: Uint8Array, hashesAt: number): void {
    this.makeRoom(count, maxBytes);
    // One native call copies the contents and writes each entry's end: no JS per entry.
    this.contentTail += hashing.gatherSpans(src, spans, count, this.contents, this.contentTail, this.ends, this.tail);
    this.hashes.set(hashSrc.subarray(hashesAt, hashesAt + count * HASH_BYTES), this.tail * HASH_BYTES);
    this.tail += count;
  }

  /**
   * Compacts in place when the live part fills at most half the buffer
   * afterwards, else grows to the next power of two. The half matters: when
   * the live part nearly filled the buffer, every append moved all of it (the
   * first profile of issue #10: 13 % of the sealer's time in this function).
   */
  private makeRoom(entries: number, bytes: number): void {
    const liveEntries = this.tail - this.head;
    const liveBytes = this.contentTail - this.contentHead;
    if (this.tail + entries <= this.ends.length && this.contentTail + bytes <= this.contents.length) return;
    const entryCap = capacityFor(2 * (liveEntries + entries), this.ends.length);
    const byteCap = capacityFor(2 * (liveBytes + bytes), this.contents.length);
    const ends = entryCap === this.ends.length ? this.ends : new Uint32Array(entryCap);
    const hashes = entryCap === this.ends.length ? this.hashes : new Uint8Array(entryCap * HASH_BYTES);
    const contents = byteCap === this.contents.length ? this.contents : new Uint8Array(byteCap);
    // copyWithin moves overlapping ranges correctly, so one path serves both cases.
    if (contents === this.contents) contents.copyWithin(0, this.contentHead, this.contentTail);
    else contents.set(this.contents.subarray(this.contentHead, this.contentTail));
    if (hashes === this.hashes) hashes.copyWithin(0, this.head * HASH_BYTES, this.tail * HASH_BYTES);
    else hashes.set(this.hashes.subarray(this.head * HASH_BYTES, this.tail * HASH_BYTES));
    for (let i = 0; i < liveEntries; i++) ends[i] = this.ends[this.head + i]! - this.contentHead;
    this.ends = ends;
    this.hashes = hashes;
    this.contents = contents;
    this.head = 0;
    this.tail = liveEntries;
    this.contentHead = 0;
    this.contentTail = liveBytes;
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

export class PendingEntries {
  private readonly chains = new Map<number, ChainBacklog>();
  /** Kept up to date on every add and release, so reading it costs nothing per chain. */
  bytes = 0;
  /** The chain backlog admission reads in another thread (control.ts; null: not shared). */
  private readonly perChain: Int32Array | null;

  constructor(perChain: Int32Array | null = null) {
    this.perChain = perChain;
  }

  /** A chain's entries start at `nextSeq` (its first seq not yet durable). */
  register(slot: number, nextSeq: number): void {
    if (!this.chains.has(slot)) this.chains.set(slot, new ChainBacklog(nextSeq));
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
