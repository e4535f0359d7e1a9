// Hashed entries the sealer copied out of the lane rings and holds until
// their block is durable. A chain's frames can arrive from two rings out of
// order (after the chain changed lane), so segments are kept sorted by seq and
// a block is only built once its whole seq range is present.
//
// Copying is per frame, never per entry in JS: a record's entry contents are
// gathered out of the ring in one native call, so a segment holds them back to
// back, and a block is assembled from whole runs of segments.
import { RingView } from '../ring/index.js';
import { hashing } from '../native/index.js';

/** One frame's entries: contents back to back, their end offsets, and their hashes. */
export interface Segment {
  firstSeq: number;
  count: number;
  contents: Uint8Array;
  /** Exclusive end of entry i in `contents`. */
  ends: Uint32Array;
  hashes: Uint8Array;
}

/** A block's entries in the form the ledger stores. */
export interface BlockEntries {
  entryHashes: Uint8Array;
  contents: Uint8Array;
  contentEnds: Uint32Array;
}

interface Piece {
  segment: Segment;
  from: number;
  to: number;
}

export class PendingEntries {
  private readonly byChain = new Map<number, Segment[]>();
  bytes = 0;

  /** Copies the frame record at `at` out of the ring. */
  copyRecord(view: RingView, at: number): void {
    const count = view.entryCount(at);
    const spans = new Int32Array(view.sab, view.spansStart(at), count * 2);
    const ends = new Uint32Array(count);
    let end = 0;
    for (let i = 0; i < count; i++) {
      end += spans[2 * i + 1]!;
      ends[i] = end;
    }
    const contents = new Uint8Array(end);
    hashing.gatherSpans(view.u8, spans, count, contents, 0);
    const hashesStart = view.hashesStart(at);
    const hashes = view.u8.slice(hashesStart, hashesStart + count * 32);
    this.add(view.chainSlot(at), { firstSeq: view.firstSeq(at), count, contents, ends, hashes });
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
    this.bytes += sizeOf(segment);
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
    const pieces = this.pieces(slot, firstSeq, endSeq);
    let contentBytes = 0;
    for (const p of pieces) contentBytes += contentEnd(p.segment, p.to) - contentEnd(p.segment, p.from);
    const entryHashes = new Uint8Array(count * 32);
    const contents = new Uint8Array(contentBytes);
    const contentEnds = new Uint32Array(count);
    let n = 0;
    let offset = 0;
    for (const { segment, from, to } of pieces) {
      const start = contentEnd(segment, from);
      entryHashes.set(segment.hashes.subarray(from * 32, to * 32), n * 32);
      contents.set(segment.contents.subarray(start, contentEnd(segment, to)), offset);
      for (let i = from; i < to; i++) contentEnds[n++] = offset + segment.ends[i]! - start;
      offset += contentEnd(segment, to) - start;
    }
    return { entryHashes, contents, contentEnds };
  }

  /** Drops a chain's entries below endSeq (their block is durable). */
  release(slot: number, endSeq: number): void {
    const segments = this.byChain.get(slot);
    if (segments === undefined) return;
    let done = 0;
    while (done < segments.length && segments[done]!.firstSeq + segments[done]!.count <= endSeq) {
      this.bytes -= sizeOf(segments[done]!);
      done++;
    }
    // One splice, not a shift per segment: a busy chain holds thousands of them.
    segments.splice(0, done);
    if (segments.length === 0) this.byChain.delete(slot);
  }

  private pieces(slot: number, firstSeq: number, endSeq: number): Piece[] {
    const out: Piece[] = [];
    for (const segment of this.byChain.get(slot) ?? []) {
      if (segment.firstSeq >= endSeq) break;
      const from = Math.max(firstSeq, segment.firstSeq) - segment.firstSeq;
      const to = Math.min(endSeq, segment.firstSeq + segment.count) - segment.firstSeq;
      if (from < to) out.push({ segment, from, to });
    }
    return out;
  }
}

/** Where entry `i` of a segment starts (= where entry i - 1 ends). */
function contentEnd(segment: Segment, i: number): number {
  return i === 0 ? 0 : segment.ends[i - 1]!;
}

function sizeOf(segment: Segment): number {
  return segment.contents.byteLength + segment.hashes.byteLength + segment.ends.byteLength;
}
