// Calibration on this machine, and the busy-time correction.
import { describe, expect, it } from 'vitest';
import { hashing } from '../../src/native/index.js';
import { CALIBRATION_SHAPES, LaneCapacityModel, calibrateLane, measureShape } from '../../src/scheduler/index.js';

/** What calibration hashes with: the native addon, or anything shaped like it. */
type CalibrationHasher = Parameters<typeof measureShape>[0];

describe('calibration', () => {
  // How fast, and how long calibrating takes: `npm run bench -- --micro`, the calibration suite.
  it('measures entries/s and bytes/s on this machine, the bytes shape moving more bytes than the entries shape', () => {
    const one = calibrateLane(hashing, 1, 120);
    for (const rate of [one.entriesPerSec, one.bytesPerSec]) {
      expect(Number.isFinite(rate)).toBe(true);
      expect(rate).toBeGreaterThan(0);
    }
    // Measured, not derived: 64 KiB entries move far more bytes per second than 64-byte ones.
    const entriesShape = measureShape(hashing, CALIBRATION_SHAPES.entries, 30);
    expect(one.bytesPerSec).toBeGreaterThan(entriesShape.bytesPerSec);
  });

  it('hashes real frames, stops once its budget is spent, and measures a few frames however slow the machine', () => {
    const frames: number[] = [];
    const counting: CalibrationHasher = {
      sha256Spans(src, spans, count, dst, dstOffset) {
        frames.push(count);
        hashing.sha256Spans(src, spans, count, dst, dstOffset);
      },
    };
    // No time at all: one round of frames, since at least four are measured.
    const rate = measureShape(counting, CALIBRATION_SHAPES.entries, 0);
    expect(frames).toEqual(Array(8).fill(CALIBRATION_SHAPES.entries.entries));
    expect(rate.entriesPerSec).toBeGreaterThan(0);
  });

  it('scales with the threads that can run at once', () => {
    const model = new LaneCapacityModel({ entriesPerSec: 1e6, bytesPerSec: 1e9 });
    expect(model.current).toEqual({ entriesPerSec: 1e6, bytesPerSec: 1e9 });
  });
});

describe('busy-time correction', () => {
  it('lowers capacity when workers are busier than calibration predicts, and ignores idle windows', () => {
    const model = new LaneCapacityModel({ entriesPerSec: 1_000_000, bytesPerSec: 1e12 });
    // 200 k entries/s predicts 0.2 s busy per second; the workers were busy 0.4.
    expect(model.refine({ entriesPerSec: 200_000, bytesPerSec: 0 }, 0.4, 1)).toBe(true);
    expect(model.correction).toBeGreaterThan(1);
    for (let i = 0; i < 30; i++) model.refine({ entriesPerSec: 200_000, bytesPerSec: 0 }, 0.4, 1);
    expect(model.correction).toBeCloseTo(2, 1);
    expect(model.current.entriesPerSec).toBeCloseTo(500_000, -4);
    // An idle window says nothing.
    expect(model.refine({ entriesPerSec: 100, bytesPerSec: 0 }, 0.001, 1)).toBe(false);
  });

  it('is bounded, and leaves a declared capacity alone', () => {
    const model = new LaneCapacityModel({ entriesPerSec: 1_000, bytesPerSec: 1e12 });
    for (let i = 0; i < 50; i++) model.refine({ entriesPerSec: 1, bytesPerSec: 0 }, 1, 1);
    expect(model.correction).toBeLessThanOrEqual(4);
    const declared = new LaneCapacityModel({ entriesPerSec: 1_000, bytesPerSec: 1e12 }, true);
    expect(declared.refine({ entriesPerSec: 100, bytesPerSec: 0 }, 1, 1)).toBe(false);
    expect(declared.correction).toBe(1);
  });
});
