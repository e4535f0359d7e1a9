// One lane's ring: a SharedArrayBuffer of variable-length frame records with a
// single producer (the front door) and cursors instead of locks.
//
// Cursors are byte positions that count up forever as u32 and wrap at 2^32;
// the record offset is `position & mask`, and distances are
// `seqDistance(a, b)`, so the ring size must be a power of two no larger than
// RING_MAX_DATA_BYTES (2^30). Each cursor sits on its own cache line so the
// threads that write them never share a line.
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
// Records (fields, offsets and sizes in layout.ts), and who writes each part:
//   header, frame  the producer (front door), before it stores `head`
//   spans          the producer, with the frame: each entry's content offset
//                  (absolute in the SharedArrayBuffer) and length, as
//                  admission's walk over the frame found them, so a lane only
//                  hashes and never walks the frame again (issue #25)
//   hashes         the lane worker handed the record's range (or the front
//                  door, hashing a small frame inline); read by the front door
//                  (replies) after the task resolved and by the sealer after
//                  `hashed` passed the record
// A record never wraps: when it does not fit before the end of the buffer, a
// RECORD_PAD record fills the tail and the frame starts at offset 0.
import * as layout from './layout.js';
import { hashing } from '../native/index.js';

// Module consts, not imports: the hot paths below run on every frame (see layout.ts).
const {
  RECORD_BYTES_AT,
  RECORD_CHAIN_SLOT_AT,
  RECORD_ENTRY_COUNT_AT,
  RECORD_FIRST_SEQ_AT,
  RECORD_FRAME,
  RECORD_FRAME_BYTES_AT,
  RECORD_HEADER_BYTES,
  RECORD_KIND_AT,
  RECORD_PAD,
  RECORD_RESERVED_AT,
  RING_CONTROL_BYTES,
  RING_HASHED_CELL,
  RING_HEAD_CELL,
  RING_MAX_DATA_BYTES,
  RING_RELEASED_CELL,
  SPAN_BYTES,
  align8,
  recordBytesFor,
  seqAdd,
  seqDistance,
} = layout;
const { copyBytes } = hashing;

/** Typed views over one ring's SharedArrayBuffer, the same in every thread. */
export class RingView {
  readonly sab: SharedArrayBuffer;
  /** The cursors, as the u32 they are. */
  readonly control: Uint32Array;
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
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0 || this.size > RING_MAX_DATA_BYTES) {
      throw new RangeError(`ring data size must be a power of two up to ${RING_MAX_DATA_BYTES}, got ${this.size}`);
    }
    this.mask = this.size - 1;
    this.control = new Uint32Array(sab, 0, RING_CONTROL_BYTES / 4);
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

  recordBytes(at: number): number {
    return this.u32[(at + RECORD_BYTES_AT) >>> 2]!;
  }
  kind(at: number): number {
    return this.u32[(at + RECORD_KIND_AT) >>> 2]!;
  }
  frameBytes(at: number): number {
    return this.u32[(at + RECORD_FRAME_BYTES_AT) >>> 2]!;
  }
  entryCount(at: number): number {
    return this.u32[(at + RECORD_ENTRY_COUNT_AT) >>> 2]!;
  }
  chainSlot(at: number): number {
    return this.u32[(at + RECORD_CHAIN_SLOT_AT) >>> 2]!;
  }
  firstSeq(at: number): number {
    return this.f64[(at + RECORD_FIRST_SEQ_AT) >>> 3]!;
  }
  frameStart(at: number): number {
    return at + RECORD_HEADER_BYTES;
  }
  spansStart(at: number): number {
    return align8(at + RECORD_HEADER_BYTES + this.frameBytes(at));
  }
  hashesStart(at: number): number {
    return this.spansStart(at) + this.entryCount(at) * SPAN_BYTES;
  }

  loadHead(): number {
    return Atomics.load(this.control, RING_HEAD_CELL);
  }
  loadHashed(): number {
    return Atomics.load(this.control, RING_HASHED_CELL);
  }
  loadReleased(): number {
    return Atomics.load(this.control, RING_RELEASED_CELL);
  }
  /** Front door only. */
  storeHashed(pos: number): void {
    Atomics.store(this.control, RING_HASHED_CELL, pos);
  }
  /** Sealer only. */
  storeReleased(pos: number): void {
    Atomics.store(this.control, RING_RELEASED_CELL, pos);
  }
  /** Bytes between `released` and `head`: frames not yet copied out by the sealer. */
  used(): number {
    return seqDistance(this.loadHead(), this.loadReleased());
  }
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

  get position(): number {
    return this.head;
  }

  /**
   * Writes a frame record and publishes it, or returns -1 when the ring lacks
   * room (the caller answers `busy`; nothing was written). Returns the record's
   * ring position. `spans` holds entry i's content offset (from the frame's
   * first byte) and length at [2i], [2i + 1], as FrameReader.scan writes them.
   */
  push(frame: Uint8Array, entryCount: number, chainSlot: number, firstSeq: number, spans: Int32Array): number {
    const v = this.view;
    // `length`, not `byteLength` (docs/architecture.md, "What V8 does not inline on the
    // frame path").
    const frameBytes = frame.length;
    const need = recordBytesFor(frameBytes, entryCount);
    const used = seqDistance(this.head, v.loadReleased());
    const offset = this.head & v.mask;
    const tail = v.size - offset;
    const pad = need > tail ? tail : 0;
    if (used + pad + need > v.size) return -1;
    if (pad > 0) {
      const at = v.base + offset;
      v.u32[(at + RECORD_BYTES_AT) >>> 2] = pad;
      v.u32[(at + RECORD_KIND_AT) >>> 2] = RECORD_PAD;
      this.head = seqAdd(this.head, pad);
    }
    const pos = this.head;
    const at = v.offsetOf(pos);
    v.u32[(at + RECORD_BYTES_AT) >>> 2] = need;
    v.u32[(at + RECORD_KIND_AT) >>> 2] = RECORD_FRAME;
    v.u32[(at + RECORD_FRAME_BYTES_AT) >>> 2] = frameBytes;
    v.u32[(at + RECORD_ENTRY_COUNT_AT) >>> 2] = entryCount;
    v.u32[(at + RECORD_CHAIN_SLOT_AT) >>> 2] = chainSlot;
    v.u32[(at + RECORD_RESERVED_AT) >>> 2] = 0;
    v.f64[(at + RECORD_FIRST_SEQ_AT) >>> 3] = firstSeq;
    const frameAt = at + RECORD_HEADER_BYTES;
    // Not u8.set: into shared memory V8 copies byte by byte unless both sides are equally aligned.
    copyBytes(frame, 0, frameBytes, v.u8, frameAt);
    const i32 = v.i32;
    const to = align8(frameAt + frameBytes) >>> 2;
    for (let i = 0; i < 2 * entryCount; i += 2) {
      i32[to + i] = spans[i]! + frameAt;
      i32[to + i + 1] = spans[i + 1]!;
    }
    this.head = seqAdd(pos, need);
    Atomics.store(v.control, RING_HEAD_CELL, this.head);
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
    pos = seqAdd(pos, bytes);
  }
  return pos;
}
