// The memory a chain's backlog is made of: segments of fixed capacity, taken
// from a pool the whole sealer shares and given back once their entries are
// durable.
//
// Why segments and not one growing buffer per chain: profiling the sealer
// under the default bench load (issue #10) put 62 % of its time in the kernel
// clearing fresh pages (clear_page_erms), faulted in by the copy into a chain
// buffer that had just doubled, and by the doubling's own copy. On this
// machine a fresh page costs 14× a warm one (filling 256 MiB: 153–176 ms fresh,
// 11–12 ms warm). A pooled segment is warm after the first seals, a chain's
// backlog never moves once copied, and what a chain holds shrinks with it.
import { HASH_BYTES } from '../protocol/index.js';

/** The smallest segment's contents; a quiet chain holds one. */
const SEGMENT_MIN_BYTES = 16 * 1024;
/** A busy chain's segments, unless one frame needs more. */
const SEGMENT_BUSY_BYTES = 4 * 1024 * 1024;
/** Entry slots per byte of contents: one per 64 bytes (entries are usually larger; a frame of tiny entries takes a larger class). */
const CONTENT_BYTES_PER_ENTRY_SLOT = 64;

/** Entries [firstSeq, firstSeq + count) of one chain, back to back; `head` of them are durable and dropped. */
export class Segment {
  readonly contentCapacity: number;
  readonly contents: Uint8Array;
  readonly hashes: Uint8Array;
  /** ends[i]: where entry i ends in `contents`; entry i starts at ends[i - 1] (0 for the first). */
  readonly ends: Uint32Array;
  firstSeq = 0;
  count = 0;
  head = 0;

  constructor(contentCapacity: number) {
    this.contentCapacity = contentCapacity;
    this.contents = new Uint8Array(contentCapacity);
    this.ends = new Uint32Array(contentCapacity / CONTENT_BYTES_PER_ENTRY_SLOT);
    this.hashes = new Uint8Array(this.ends.length * HASH_BYTES);
  }

  /** What the segment holds in memory, whatever it is filled with. */
  get footprint(): number {
    return this.contents.byteLength + this.ends.byteLength + this.hashes.byteLength;
  }

  get endSeq(): number {
    return this.firstSeq + this.count;
  }

  get contentBytes(): number {
    return this.contentStart(this.count);
  }

  /** Where entry i starts in `contents`. */
  contentStart(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** `bytes` bounds the entries' contents (a frame's size does). */
  fits(entries: number, bytes: number): boolean {
    return this.count + entries <= this.ends.length && this.contentBytes + bytes <= this.contentCapacity;
  }

  reset(firstSeq: number): void {
    this.firstSeq = firstSeq;
    this.count = 0;
    this.head = 0;
  }
}

/** The class (a power of two) of a segment for a frame of `entries` and `bytes`, in a chain holding `liveBytes`. */
export function segmentCapacityFor(entries: number, bytes: number, liveBytes: number): number {
  // A chain that holds a lot gets larger segments: fewer of them, and fewer blocks that span two.
  const wanted = Math.max(SEGMENT_MIN_BYTES, bytes, entries * CONTENT_BYTES_PER_ENTRY_SLOT, Math.min(SEGMENT_BUSY_BYTES, liveBytes / 4));
  let capacity = SEGMENT_MIN_BYTES;
  while (capacity < wanted) capacity *= 2;
  return capacity;
}

/**
 * Idle segments by class, for the whole sealer (one thread: no locks). It
 * keeps at most `maxIdleBytes` of them; past that a returned segment is left to
 * the garbage collector, so memory held falls back after a burst.
 */
export class SegmentPool {
  private readonly idle = new Map<number, Segment[]>();
  private idleBytes = 0;
  private readonly maxIdleBytes: number;

  constructor(maxIdleBytes: number) {
    this.maxIdleBytes = maxIdleBytes;
  }

  take(contentCapacity: number, firstSeq: number): Segment {
    const pooled = this.idle.get(contentCapacity)?.pop();
    if (pooled !== undefined) this.idleBytes -= pooled.footprint;
    const segment = pooled ?? new Segment(contentCapacity);
    segment.reset(firstSeq);
    return segment;
  }

  give(segment: Segment): void {
    if (this.idleBytes + segment.footprint > this.maxIdleBytes) return;
    this.idleBytes += segment.footprint;
    const list = this.idle.get(segment.contentCapacity);
    if (list === undefined) this.idle.set(segment.contentCapacity, [segment]);
    else list.push(segment);
  }

  /** Bytes of idle segments held for reuse. */
  get heldBytes(): number {
    return this.idleBytes;
  }
}
