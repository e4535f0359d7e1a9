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

  it('gives a reader that keeps its place the next ones, oldest first, and shows where the ring let some go', () => {
    const ring = new LaneDecisions(4);
    expect(ring.lastId).toBe(0);
    expect(ring.after(0, 10)).toEqual([]);
    for (let i = 0; i < 3; i++) ring.add({ kind: 'core-move', reason: `move ${i}`, numbers: {} });
    expect(ring.lastId).toBe(3);
    expect(ring.after(0, 2).map((d) => d.id)).toEqual([1, 2]);
    expect(ring.after(2, 10).map((d) => d.id)).toEqual([3]);
    expect(ring.after(3, 10)).toEqual([]);
    // Six more: the ring keeps 4 (6…9), so a reader at 3 finds 6 next — 4 and 5 are gone.
    for (let i = 0; i < 6; i++) ring.add({ kind: 'core-move', reason: `more ${i}`, numbers: {} });
    expect(ring.after(3, 10).map((d) => d.id)).toEqual([6, 7, 8, 9]);
    expect(ring.after(7, 1).map((d) => d.id)).toEqual([8]);
  });
});
