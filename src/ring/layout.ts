// Where things sit in the shared memory of src/ring, and the arithmetic on its
// wrapping u32 values. Every offset and size is written here once; the files
// that use them (lane-ring.ts, chain-table.ts, counters.ts, lane-cores.ts, and
// the sealer's control block) say who writes each slot and what a reader may
// assume.
//
// The per-frame code of the ring and the load counters copies what it uses
// from here into consts of its own module (`const { RECORD_KIND_AT } =
// layout`) instead of using the imports directly: Node 20's V8 loads an imported binding from its module
// cell at every use, but folds a module's own consts into the compiled code.
// Measured on a ring push of a 100-byte frame (Node 20): 72 ns with the
// imports, 67 ns with module consts.
import { HASH_BYTES } from '../protocol/index.js';

// ---- cache lines ----

/**
 * The distance kept between slots that different threads write, so a write
 * by one thread never takes a line away from a thread reading another slot
 * (false sharing). 128 and not 64: x86's adjacent-line prefetcher moves
 * 64-byte lines in pairs, and Apple's cores have 128-byte lines.
 */
export const CACHE_LINE_BYTES = 128;
/** 32-bit cells (Int32Array / Uint32Array elements) in one cache line. */
export const LINE_CELLS = CACHE_LINE_BYTES / 4;

/** `bytes` rounded up to whole cache lines. */
export function wholeLines(bytes: number): number {
  return Math.ceil(bytes / CACHE_LINE_BYTES) * CACHE_LINE_BYTES;
}

// ---- wrapping u32 sequences: ring cursors and load counters ----
// They count up forever and wrap at 2^32, so they are compared only through
// their distance, which is right across the wrap as long as the two values
// are less than 2^32 apart (Firedancer's fd_seq_diff, unsigned).

/** How far `a` is ahead of `b`, in [0, 2^32). */
export function seqDistance(a: number, b: number): number {
  return (a - b) >>> 0;
}

/** `a` moved `n` forward, wrapped at 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

// ---- the lane ring's control block: one cursor per line (Uint32Array cells) ----

export const RING_HEAD_CELL = 0;
export const RING_HASHED_CELL = LINE_CELLS;
export const RING_RELEASED_CELL = 2 * LINE_CELLS;
/** Bytes of the control block in front of the ring's data region: the three cursor lines and a spare one. */
export const RING_CONTROL_BYTES = 4 * CACHE_LINE_BYTES;
/** The largest data region (every data region is a power of two). */
export const RING_MAX_DATA_BYTES = 2 ** 30;

// ---- the lane ring's records ----
// Records are 8-byte aligned; offsets are from the record's start. Who writes
// each part (lane-ring.ts): the front door the header, frame and spans; a lane
// worker (or the front door hashing inline) the hashes.
//   header   RECORD_HEADER_BYTES: the fields below
//   frame    frameBytes of msgpack
//   spans    from align8(end of frame): entryCount × SPAN_BYTES, where admission's walk found each entry
//   hashes   after the spans: entryCount × HASH_BYTES of SHA-256

/** A frame record: header, frame bytes, spans, hashes. */
export const RECORD_FRAME = 1;
/** Fills the tail of the data region when the next record does not fit before the end. */
export const RECORD_PAD = 2;

/** u32: the whole record's bytes, padding included (every record kind has it). */
export const RECORD_BYTES_AT = 0;
/** u32: RECORD_FRAME or RECORD_PAD (every record kind has it). */
export const RECORD_KIND_AT = 4;
/** u32: length of the msgpack frame at RECORD_HEADER_BYTES. */
export const RECORD_FRAME_BYTES_AT = 8;
/** u32 */
export const RECORD_ENTRY_COUNT_AT = 12;
/** u32: the chain's slot in the chain table. */
export const RECORD_CHAIN_SLOT_AT = 16;
/** u32, written 0. */
export const RECORD_RESERVED_AT = 20;
/** f64: the chain's sequence number of the record's first entry. */
export const RECORD_FIRST_SEQ_AT = 24;
/** The frame bytes start here. */
export const RECORD_HEADER_BYTES = 32;

/** One entry's span after the frame: i32 absolute offset into the SharedArrayBuffer, i32 length. */
export const SPAN_BYTES = 8;

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes a frame record of this many frame bytes and entries takes in the ring. */
export function recordBytesFor(frameBytes: number, entryCount: number): number {
  return align8(RECORD_HEADER_BYTES + frameBytes) + entryCount * (SPAN_BYTES + HASH_BYTES);
}
