import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { RING_HEAD_CELL, RingProducer, RingView, forEachRecord, recordBytesFor } from '../../src/ring/index.js';
import { workerFile } from '../../src/paths.js';
import type { RingConsumerData, RingConsumerReport } from './fixtures/ring-consumer-thread.js';
import { registerCleanup } from '../helpers/index.js';

function frame(bytes: number, fill: number): Uint8Array {
  return new Uint8Array(bytes).fill(fill);
}

/** Spans of `count` equal entries filling a frame of `bytes`, as admission's walk would write them (offsets from the frame's start). */
function spansOf(bytes: number, count: number): Int32Array {
  const spans = new Int32Array(2 * count);
  const each = Math.floor(bytes / count);
  for (let i = 0; i < count; i++) {
    spans[2 * i] = i * each;
    spans[2 * i + 1] = each;
  }
  return spans;
}

/** Plays the sealer: releases everything up to `head`. */
function releaseAll(view: RingView): void {
  view.storeHashed(view.loadHead());
  view.storeReleased(view.loadHead());
}

describe('lane ring', () => {
  it('refuses a size that is not a power of two', () => {
    expect(() => RingView.allocate(3000)).toThrow(/power of two/);
  });

  it('wraps around with a pad record and keeps every frame intact', () => {
    const view = RingView.allocate(1024);
    const producer = new RingProducer(view);
    const seen: number[] = [];
    let from = view.loadHead();
    for (let i = 0; i < 50; i++) {
      const pos = producer.push(frame(100 + (i % 5) * 37, i), 1, i % 3, i, spansOf(100 + (i % 5) * 37, 1));
      expect(pos).toBeGreaterThanOrEqual(0);
      const to = view.loadHead();
      forEachRecord(view, from, to, (at) => {
        const n = view.frameBytes(at);
        const start = view.frameStart(at);
        expect(view.u8.subarray(start, start + n).every((b) => b === view.firstSeq(at))).toBe(true);
        expect(view.chainSlot(at)).toBe(view.firstSeq(at) % 3);
        seen.push(view.firstSeq(at));
      });
      from = to;
      releaseAll(view);
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // 50 records of ~250 bytes went through 1 KiB: it wrapped many times.
    expect(view.loadHead()).toBeGreaterThan(10 * 1024);
  });

  it('keeps working when the u32 cursors wrap past 2^32', () => {
    const view = RingView.allocate(1024);
    const near = 2 ** 32 - 300;
    view.control[RING_HEAD_CELL] = near;
    view.storeHashed(near);
    view.storeReleased(near);
    const producer = new RingProducer(view);
    for (let i = 0; i < 10; i++) {
      expect(producer.push(frame(200, i), 2, 0, i, spansOf(200, 2))).toBeGreaterThanOrEqual(0);
      releaseAll(view);
    }
    expect(view.loadHead()).toBeLessThan(near);
  });

  it('writes the spans admission found as offsets into the shared buffer, after the frame bytes', () => {
    const view = RingView.allocate(4096);
    const producer = new RingProducer(view);
    producer.push(frame(90, 1), 1, 0, 0, spansOf(90, 1));
    // Three entries of 10, 0 and 25 bytes behind 1-byte headers, in a frame of 39 bytes.
    const bytes = Uint8Array.from({ length: 39 }, (_, i) => i);
    const pos = producer.push(bytes, 3, 7, 40, new Int32Array([2, 10, 13, 0, 14, 25]));
    const at = view.offsetOf(pos);
    const start = view.frameStart(at);
    expect(Buffer.from(view.u8.subarray(start, start + 39)).equals(Buffer.from(bytes))).toBe(true);
    expect([...view.i32.subarray(view.spansStart(at) / 4, view.spansStart(at) / 4 + 6)]).toEqual([start + 2, 10, start + 13, 0, start + 14, 25]);
    expect(view.spansStart(at) % 8).toBe(0);
    expect(view.hashesStart(at)).toBe(view.spansStart(at) + 3 * 8);
  });

  it("stops a walk where the visitor says so and returns that record's position", () => {
    const view = RingView.allocate(4096);
    const producer = new RingProducer(view);
    const positions = [0, 1, 2].map((i) => producer.push(frame(100, i), 1, 0, i, spansOf(100, 1)));
    const seen: number[] = [];
    const stoppedAt = forEachRecord(view, 0, view.loadHead(), (at) => {
      if (view.firstSeq(at) === 2) return false;
      seen.push(view.firstSeq(at));
    });
    expect(seen).toEqual([0, 1]);
    expect(stoppedAt).toBe(positions[2]);
    expect(forEachRecord(view, 0, view.loadHead(), () => undefined)).toBe(view.loadHead());
  });

  it('answers -1 when full, writes nothing, and accepts again once released', () => {
    const view = RingView.allocate(1024);
    const producer = new RingProducer(view);
    const size = recordBytesFor(200, 1);
    let pushed = 0;
    while (producer.push(frame(200, 1), 1, 0, pushed, spansOf(200, 1)) >= 0) pushed++;
    expect(pushed).toBe(Math.floor(1024 / size));
    const head = view.loadHead();
    expect(producer.push(frame(200, 1), 1, 0, 99, spansOf(200, 1))).toBe(-1);
    expect(view.loadHead()).toBe(head);
    releaseAll(view);
    expect(producer.push(frame(200, 1), 1, 0, 99, spansOf(200, 1))).toBeGreaterThanOrEqual(0);
  });

  it('moves frames from a producer thread to a consumer thread through shared memory only', async () => {
    const view = RingView.allocate(64 * 1024);
    const frames = 20_000;
    const data: RingConsumerData = { sab: view.sab, frames };
    const consumer = new Worker(workerFile(import.meta.url, 'fixtures/ring-consumer-thread'), { workerData: data });
    // Ended after the test even if the producer side fails and the consumer is left waiting.
    registerCleanup('ring consumer thread', () => consumer.terminate());
    const producer = new RingProducer(view);
    let sent = 0;
    let busy = 0;
    while (sent < frames) {
      const bytes = 16 + (sent % 200);
      const f = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i++) f[i] = (sent + i) & 0xff;
      if (producer.push(f, 1, 0, sent, spansOf(bytes, 1)) < 0) {
        busy++;
        view.storeHashed(view.loadHead());
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      sent++;
      if (sent % 64 === 0) view.storeHashed(view.loadHead());
    }
    view.storeHashed(view.loadHead());
    const result = await new Promise<RingConsumerReport>((resolve) => consumer.once('message', resolve));
    expect(result).toEqual({ frames, errors: 0 });
    // The ring is smaller than the traffic, so the producer had to wait for the consumer.
    expect(busy).toBeGreaterThan(0);
  });
});
