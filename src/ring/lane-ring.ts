// One lane's ring: a SharedArrayBuffer of variable-length frame records with a
// single producer (the front door) and cursors instead of locks.
//
// Cursors are byte positions that count up forever as u32 and wrap at 2^32;
// the record offset is `position & mask`, and distances are `(a - b) >>> 0`,
// so the ring size must be a power of two no larger than 2^30. Each cursor sits
// on its own 128-byte line so the threads that write them never share a line.
//
//   head      written by the front door after it copies a frame in (stats only:
//             workers are handed explicit [from, to) ranges)
//   hashed    written by the front door once every record before it has been
//             hashed by a lane worker (tasks finish out of order; the front door
//             advances this over the contiguous finished prefix)
//   released  written by the sealer after it copied every record before it out;
//             the producer may reuse the bytes before `released`
//
// Protocol: the producer writes a record's bytes, then Atomics.store(head).
// A worker reads records only inside a range it was handed after that store.
// The front door stores `hashed` only after the worker's task resolved (the
// task result crosses threads by message, which orders the worker's writes
// before it). The sealer reads `hashed` with Atomics.load and only touches
// records before it, then stores `released`. The producer reads `released` with
// Atomics.load before reusing bytes. Every cursor has exactly one writer.
//
// Record layout (8-byte aligned, offsets relative to the record start):
//   0  u32 recordBytes   whole record, padding included
//   4  u32 kind          RECORD_FRAME or RECORD_PAD
//   8  u32 frameBytes    length of the msgpack frame copied at +32
//  12  u32 entryCount
//  16  u32 chainSlot
//  20  u32 reserved
//  24  f64 firstSeq      the chain's sequence number of the first entry
//  32  frame bytes …
//      spans   at align8(32 + frameBytes): entryCount × (i32 offset, i32 length),
//              absolute byte offsets into the SharedArrayBuffer (written by the worker)
//      hashes  after spans: entryCount × 32 bytes of SHA-256 (written by the worker)
// A record never wraps: when it does not fit before the end of the buffer, a
// RECORD_PAD record fills the tail and the frame starts at offset 0.

export const RECORD_FRAME = 1;
export const RECORD_PAD = 2;
export const RECORD_HEADER_BYTES = 32;
export const SPAN_BYTES = 8;
export const HASH_BYTES = 32;

const CURSOR_LINE_INTS = 32; // 128 bytes
const HEAD = 0;
const HASHED = CURSOR_LINE_INTS;
const RELEASED = 2 * CURSOR_LINE_INTS;
/** Bytes of the control block in front of the data region. */
export const RING_CONTROL_BYTES = 4 * CURSOR_LINE_INTS * 4;

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes a frame record of this many frame bytes and entries takes in the ring. */
export function recordBytesFor(frameBytes: number, entryCount: number): number {
  return align8(RECORD_HEADER_BYTES + frameBytes) + entryCount * (SPAN_BYTES + HASH_BYTES);
}

/** Typed views over one ring's SharedArrayBuffer, the same in every thread. */
export class RingView {
  readonly sab: SharedArrayBuffer;
  readonly control: Int32Array;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** Byte offset of the data region inside the SharedArrayBuffer. */
  readonly base = RING_CONTROL_BYTES;
  readonly size: number;
  readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.size = sab.byteLength - RING_CONTROL_BYTES;
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0 || this.size > 2 ** 30) {
      throw new RangeError(`ring data size must be a power of two up to 2^30, got ${this.size}`);
    }
    this.mask = this.size - 1;
    this.control = new Int32Array(sab, 0, RING_CONTROL_BYTES / 4);
    this.u8 = new Uint8Array(sab);
    this.u32 = new Uint32Array(sab);
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
  }

  static allocate(dataBytes: number): RingView {
    return new RingView(new SharedArrayBuffer(RING_CONTROL_BYTES + dataBytes));
  }

  /** Absolute byte offset in the SharedArrayBuffer of the record at ring position `pos`. */
  offsetOf(pos: number): number {
    return this.base + (pos & this.mask);
  }

  recordBytes(at: number): number { return this.u32[at >>> 2]!; }
  kind(at: number): number { return this.u32[(at + 4) >>> 2]!; }
  frameBytes(at: number): number { return this.u32[(at + 8) >>> 2]!; }
  entryCount(at: number): number { return this.u32[(at + 12) >>> 2]!; }
  chainSlot(at: number): number { return this.u32[(at + 16) >>> 2]!; }
  firstSeq(at: number): number { return this.f64[(at + 24) >>> 3]!; }
  frameStart(at: number): number { return at + RECORD_HEADER_BYTES; }
  spansStart(at: number): number { return align8(at + RECORD_HEADER_BYTES + this.frameBytes(at)); }
  hashesStart(at: number): number { return this.spansStart(at) + this.entryCount(at) * SPAN_BYTES; }

  loadHead(): number { return Atomics.load(this.control, HEAD) >>> 0; }
  loadHashed(): number { return Atomics.load(this.control, HASHED) >>> 0; }
  loadReleased(): number { return Atomics.load(this.control, RELEASED) >>> 0; }
  storeHashed(pos: number): void { Atomics.store(this.control, HASHED, pos | 0); }
  storeReleased(pos: number): void { Atomics.store(this.control, RELEASED, pos | 0); }
  /** Bytes between `released` and `head`: frames not yet copied out by the sealer. */
  used(): number { return (this.loadHead() - this.loadReleased()) >>> 0; }
}

/**
 * The front door's side of a ring. Only one producer may exist per ring, and it
 * keeps `head` in a local field: the shared copy is for other threads to read.
 */
export class RingProducer {
  readonly view: RingView;
  private head: number;

  constructor(view: RingView) {
    this.view = view;
    this.head = view.loadHead();
  }

  get position(): number { return this.head; }

  /**
   * Writes a frame record and publishes it, or returns -1 when the ring lacks
   * room (the caller answers `busy`; nothing was written). Returns the record's
   * ring position.
   */
  push(frame: Uint8Array, entryCount: number, chainSlot: number, firstSeq: number): number {
    const v = this.view;
    const need = recordBytesFor(frame.byteLength, entryCount);
    const used = (this.head - v.loadReleased()) >>> 0;
    const offset = this.head & v.mask;
    const tail = v.size - offset;
    const pad = need > tail ? tail : 0;
    if (used + pad + need > v.size) return -1;
    if (pad > 0) {
      const at = v.base + offset;
      v.u32[at >>> 2] = pad;
      v.u32[(at + 4) >>> 2] = RECORD_PAD;
      this.head = (this.head + pad) >>> 0;
    }
    const pos = this.head;
    const at = v.offsetOf(pos);
    const w = at >>> 2;
    v.u32[w] = need;
    v.u32[w + 1] = RECORD_FRAME;
    v.u32[w + 2] = frame.byteLength;
    v.u32[w + 3] = entryCount;
    v.u32[w + 4] = chainSlot;
    v.u32[w + 5] = 0;
    v.f64[(at + 24) >>> 3] = firstSeq;
    v.u8.set(frame, at + RECORD_HEADER_BYTES);
    this.head = (pos + need) >>> 0;
    Atomics.store(v.control, HEAD, this.head | 0);
    return pos;
  }
}

/**
 * Calls `visit(offset)` for every frame record in ring positions [from, to),
 * stopping early at a record for which it returns false. Returns the position
 * reached: `to`, or the start of the record it stopped at.
 */
export function forEachRecord(view: RingView, from: number, to: number, visit: (at: number) => boolean | void): number {
  let pos = from;
  while (pos !== to) {
    const at = view.offsetOf(pos);
    const bytes = view.recordBytes(at);
    if (bytes === 0) throw new Error(`corrupt ring: zero-length record at position ${pos}`);
    if (view.kind(at) === RECORD_FRAME && visit(at) === false) return pos;
    pos = (pos + bytes) >>> 0;
  }
  return pos;
}
