// The work of a lane: hash every entry of the frame records in a ring range.
// Lane workers run it; the front door runs it itself for a small frame on an
// idle lane, and as the last resort when a range failed on workers again and
// again (see pool.ts). The front door wrote each entry's span into the record
// when it admitted the frame (lane-ring.ts), so nothing here walks the frame.
import { forEachRecord, type RingView } from '../ring/index.js';

export interface SpanHasher {
  sha256Spans(src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number, from?: number, to?: number): void;
}

export interface RangeVisit {
  /** Called once per frame record after its hashes are written. */
  (chainSlot: number, entries: number, frameBytes: number): void;
}

/**
 * Writes the hashes of each record's entries into the ring, and returns the
 * entries hashed. The spans must lie in order inside their own frame: the
 * front door wrote them before it published the record, so the hasher refuses
 * them (RangeError) only if ring memory was overwritten under us, and the
 * worker fails loudly rather than hash another frame's bytes.
 */
export function hashRange(view: RingView, from: number, to: number, hasher: SpanHasher, visit: RangeVisit | null): number {
  let entries = 0;
  forEachRecord(view, from, to, (at) => {
    const count = view.entryCount(at);
    const frameBytes = view.frameBytes(at);
    const frameStart = view.frameStart(at);
    const spans = new Int32Array(view.sab, view.spansStart(at), count * 2);
    hasher.sha256Spans(view.u8, spans, count, view.u8, view.hashesStart(at), frameStart, frameStart + frameBytes);
    entries += count;
    if (visit !== null) visit(view.chainSlot(at), count, frameBytes);
  });
  return entries;
}
