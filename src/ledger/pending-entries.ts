// Hashed entries the sealer copied out of the lane rings and holds until
// their block is durable. A chain's frames can arrive from two rings out of
// order (after the chain changed lane), so segments are kept sorted by seq and
// a block is only built once its whole seq range is present.
import { RingView } from '../ring/index.js';

/** One frame's entries: a copy of the frame bytes, spans into that copy, and the hashes. */
export interface Segment {
  firstSeq: number;
  count: number;
  frame: Buffer;
  /** Pairs (offset in `frame`, length). */
  spans: Int32Array;
  hashes: Buffer;
}

/** A block's entries in the form the ledger stores. */
export interface BlockEntries {
  entryHashes: Uint8Array;
  contents: Uint8Array;
  contentEnds: Uint32Array;
}

export class PendingEntries {
  private readonly byChain = new Map<number, Segment[]>();
  bytes = 0;

  /** Copies the frame record at `at` out of the ring. */
  copyRecord(view: RingView, at: number): void {
    const count = view.entryCount(at);
    const frameStart = view.frameStart(at);
    const ring = Buffer.from(view.sab);
    const frame = Buffer.allocUnsafe(view.frameBytes(at));
    ring.copy(frame, 0, frameStart, frameStart + frame.byteLength);
    const spans = new Int32Array(count * 2);
    spans.set(new Int32Array(view.sab, view.spansStart(at), count * 2));
    for (let i = 0; i < count; i++) spans[2 * i]! -= frameStart;
    const hashesStart = view.hashesStart(at);
    const hashes = Buffer.allocUnsafe(count * 32);
    ring.copy(hashes, 0, hashesStart, hashesStart + count * 32);
    this.add(view.chainSlot(at), { firstSeq: view.firstSeq(at), count, frame, spans, hashes });
  }

  add(slot: number, segment: Segment): void {
    let segments = this.byChain.get(slot);
    if (segments === undefined) {
      segments = [];
      this.byChain.set(slot, segments);
    }
    segments.push(segment);
    const n = segments.length;
    if (n > 1 && segments[n - 2]!.firstSeq > segment.firstSeq) segments.sort((a, b) => a.firstSeq - b.firstSeq);
    this.bytes += segment.frame.byteLength + segment.hashes.byteLength + segment.spans.byteLength;
  }

  /** Whether every seq in [firstSeq, endSeq) of the chain is here. */
  covers(slot: number, firstSeq: number, endSeq: number): boolean {
    let next = firstSeq;
    for (const s of this.byChain.get(slot) ?? []) {
      if (s.firstSeq + s.count <= next) continue;
      if (s.firstSeq > next) return false;
      next = s.firstSeq + s.count;
      if (next >= endSeq) return true;
    }
    return next >= endSeq;
  }

  /** The entries [firstSeq, endSeq) of a chain, copied into one block. Leaves the segments in place. */
  block(slot: number, firstSeq: number, endSeq: number): BlockEntries {
    const count = endSeq - firstSeq;
    const entryHashes = new Uint8Array(count * 32);
    const contentEnds = new Uint32Array(count);
    const pieces = this.pieces(slot, firstSeq, endSeq);
    let contentBytes = 0;
    for (const { segment, from, to } of pieces) {
      for (let i = from; i < to; i++) contentBytes += segment.spans[2 * i + 1]!;
    }
    const contents = Buffer.allocUnsafe(contentBytes);
    let n = 0;
    let offset = 0;
    for (const { segment, from, to } of pieces) {
      entryHashes.set(segment.hashes.subarray(from * 32, to * 32), n * 32);
      for (let i = from; i < to; i++) {
        const start = segment.spans[2 * i]!;
        const length = segment.spans[2 * i + 1]!;
        segment.frame.copy(contents, offset, start, start + length);
        offset += length;
        contentEnds[n++] = offset;
      }
    }
    return { entryHashes, contents, contentEnds };
  }

  /** Drops a chain's entries below endSeq (their block is durable). */
  release(slot: number, endSeq: number): void {
    const segments = this.byChain.get(slot);
    if (segments === undefined) return;
    while (segments.length > 0 && segments[0]!.firstSeq + segments[0]!.count <= endSeq) {
      const s = segments.shift()!;
      this.bytes -= s.frame.byteLength + s.hashes.byteLength + s.spans.byteLength;
    }
    if (segments.length === 0) this.byChain.delete(slot);
  }

  private pieces(slot: number, firstSeq: number, endSeq: number): { segment: Segment; from: number; to: number }[] {
    const out: { segment: Segment; from: number; to: number }[] = [];
    for (const segment of this.byChain.get(slot) ?? []) {
      const from = Math.max(firstSeq, segment.firstSeq) - segment.firstSeq;
      const to = Math.min(endSeq, segment.firstSeq + segment.count) - segment.firstSeq;
      if (from < to) out.push({ segment, from, to });
    }
    return out;
  }
}
