// The decisions ring behind GET /v1/lanes/events.
import { describe, expect, it } from 'vitest';
import { LaneDecisions } from '../../src/scheduler/index.js';

describe('lane decisions', () => {
  it('keeps the last N, numbers them, and picks up where a stored list left off', () => {
    const ring = new LaneDecisions(3);
    for (let i = 0; i < 5; i++) ring.add({ kind: 'chain-move', reason: `move ${i}`, numbers: { i } });
    expect(ring.list().map((d) => d.reason)).toEqual(['move 2', 'move 3', 'move 4']);
    expect(ring.list(4).map((d) => d.id)).toEqual([5]);
    expect(ring.list(0, 1).map((d) => d.id)).toEqual([5]);
    const restored = new LaneDecisions(3, JSON.parse(JSON.stringify(ring.last(2))));
    expect(restored.list().map((d) => d.id)).toEqual([4, 5]);
    expect(restored.add({ kind: 'pin', reason: 'pin', numbers: {} }).id).toBe(6);
    // Junk in the store is dropped, not trusted.
    expect(new LaneDecisions(3, [{ nope: 1 }, 'x']).list()).toEqual([]);
  });
});
