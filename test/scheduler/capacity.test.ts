// Calibration on this machine, and the busy-time correction.
import { describe, expect, it } from 'vitest';
import { hashing } from '../../src/native/index.js';
import { CALIBRATION_SHAPES, LaneCapacityModel, calibrateLane, measureShape } from '../../src/scheduler/index.js';

describe('calibration', () => {
  it('measures entries/s and bytes/s within sane bounds, well under a second', () => {
    const started = performance.now();
    const one = calibrateLane(hashing, 1, 120);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1_000);
    // 64-byte entries: SHA-256 and a msgpack walk cost 0.05–20 µs each on anything from a Raspberry Pi up.
    expect(one.entriesPerSec).toBeGreaterThan(50_000);
    expect(one.entriesPerSec).toBeLessThan(20_000_000);
    // Large entries: between 10 MB/s and 20 GB/s of SHA-256 per thread.
    expect(one.bytesPerSec).toBeGreaterThan(10e6);
    expect(one.bytesPerSec).toBeLessThan(20e9);
    // Measured, not derived: the bytes shape moves far more bytes per second than the entries shape does.
    const entriesShape = measureShape(hashing, CALIBRATION_SHAPES.entries, 30);
    expect(one.bytesPerSec).toBeGreaterThan(entriesShape.bytesPerSec);
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
