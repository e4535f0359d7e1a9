// The work of a lane: hash every entry of the frame records in a ring range.
// Lane workers run it; the front door runs it itself only as the last resort
// when a range failed on workers again and again (see pool.ts).
import { FrameReader, forEachRecord, type FrameLimits, type RingView } from '../ring/index.js';

export interface SpanHasher {
  sha256Spans(src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number): void;
}

export interface RangeVisit {
  /** Called once per frame record after its hashes are written. */
  (chainSlot: number, entries: number, frameBytes: number): void;
}

/** Decodes each record in place, writes its spans and hashes into the ring, and returns the entries hashed. */
export function hashRange(
  view: RingView, from: number, to: number, limits: FrameLimits, hasher: SpanHasher, visit: RangeVisit | null,
): number {
  const reader = new FrameReader(limits);
  let entries = 0;
  forEachRecord(view, from, to, (at) => {
    const count = view.entryCount(at);
    const frameStart = view.frameStart(at);
    const frameBytes = view.frameBytes(at);
    const spans = new Int32Array(view.sab, view.spansStart(at), count * 2);
    const found = reader.scan(view.u8, frameStart, frameStart + frameBytes, spans);
    // The front door ran the same checks before it admitted the frame, so this
    // only fires if ring memory was overwritten under us.
    if (found !== count) throw new Error(`ring record at ${at} does not decode as admitted: ${reader.message}`);
    hasher.sha256Spans(view.u8, spans, count, view.u8, view.hashesStart(at));
    entries += count;
    if (visit !== null) visit(view.chainSlot(at), count, frameBytes);
  });
  return entries;
}
