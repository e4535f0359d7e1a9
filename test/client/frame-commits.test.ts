// FrameCommits: the client's record of accepted frames until `committed`
// covers them, and its once-per-frame report (README "Clients").
import { describe, expect, it } from 'vitest';
import { FrameCommits, type FrameCommitted, type TrackedFrame } from '../../src/client/frame-commits.js';
import type { CommittedNotice } from '../../src/client/protocol.js';

const frameOf = (id: number): TrackedFrame => ({ id, blocks: new Set(), covered: 0 });
const hashes = (count: number, tag: number) => Array.from({ length: count }, () => new Uint8Array(32).fill(tag));
const notice = (seq: number, count: number): CommittedNotice => ({
  type: 'committed',
  height: 0,
  seq,
  count,
  root: new Uint8Array(32),
  block: new Uint8Array(32),
  directory: 0,
});

function tracker(bound = 100): { commits: FrameCommits<TrackedFrame>; reports: FrameCommitted[] } {
  const reports: FrameCommitted[] = [];
  return { commits: new FrameCommits(bound, (r) => reports.push(r)), reports };
}

describe('FrameCommits', () => {
  it('reports a frame once every block holding it is committed, a block counted once', () => {
    const { commits, reports } = tracker();
    const a = frameOf(0);
    const b = frameOf(1);
    commits.accepted(a, 0, 6, hashes(6, 1), false, false);
    commits.accepted(b, 6, 2, hashes(2, 2), false, false);
    commits.committed(notice(0, 4));
    commits.committed(notice(0, 4)); // the same block told twice
    expect(reports).toEqual([]);
    commits.committed(notice(4, 4)); // covers the rest of a and all of b
    expect(reports.map((r) => [r.id, r.seq, r.count])).toEqual([
      [0, 0, 6],
      [1, 6, 2],
    ]);
    expect(commits.stats).toMatchObject({ uncommitted: 0, reported: 2, duplicates: 0 });
  });

  it('a frame written again at new seqs counts only notices of those, and reports them', () => {
    const { commits, reports } = tracker();
    const a = frameOf(7);
    commits.accepted(a, 10, 4, hashes(4, 1), false, false);
    commits.committed(notice(10, 2)); // half of it, at its first seqs
    // Its gateway died before sealing the rest; sent again, the new owner writes it at 20.
    expect(commits.takeAll()).toEqual([a]);
    commits.accepted(a, 20, 4, hashes(4, 1), false, false);
    commits.committed(notice(12, 2)); // the old seqs now hold someone else's entries
    expect(reports).toEqual([]);
    commits.committed(notice(20, 4));
    expect(reports).toEqual([{ id: 7, seq: 20, count: 4, hashes: hashes(4, 1) }]);
    expect(commits.stats).toMatchObject({ rewritten: 1, repeats: 0 });
  });

  it('a repeat that says durable reports at once; a second report of an id is dropped and counted', () => {
    const { commits, reports } = tracker();
    const a = frameOf(3);
    commits.accepted(a, 0, 1, hashes(1, 1), false, false);
    commits.takeAll();
    commits.accepted(a, 0, 1, hashes(1, 1), true, true);
    expect(reports).toHaveLength(1);
    expect(commits.stats).toMatchObject({ repeats: 1, reported: 1, uncommitted: 0 });
    commits.accepted(a, 0, 1, hashes(1, 1), true, true);
    expect(reports).toHaveLength(1);
    expect(commits.stats.duplicates).toBe(1);
  });

  it('remembers at most its bound of reported ids', () => {
    const { commits, reports } = tracker(2);
    for (let id = 0; id < 3; id++) commits.accepted(frameOf(id), id, 1, hashes(1, id), false, true);
    // Id 0 left the record of reported ids: a report of it again is no longer recognised.
    commits.accepted(frameOf(0), 0, 1, hashes(1, 0), true, true);
    commits.accepted(frameOf(2), 2, 1, hashes(1, 2), true, true);
    expect(reports.map((r) => r.id)).toEqual([0, 1, 2, 0]);
    expect(commits.stats.duplicates).toBe(1);
  });
});
