// The Follower's steps (src/replicas/follower.ts, docs/replicas.md part 6)
// with in-test parts: it only orders calls to what it is given — read
// `takeover/{me}`, wait while entries are not sealed, truncate, delete the
// record — so each part is a small recording function here, and the log a
// real pino logger whose lines the test reads. The whole path on real
// gateways, etcd and stores is test/replicas/follower.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { Decoded, TakeoverRecord } from '../../src/fleet/index.js';
import { TruncationError, type TruncationRequest, type TruncationResult } from '../../src/ledger/index.js';
import { Follower, type FollowerParts } from '../../src/replicas/index.js';

type Found = { record: Decoded<TakeoverRecord>; revision: number } | null;

const RECORD: TakeoverRecord = { by: 'g2', acked: 4, at: 1_700_000_000_000 };
const REVISION = 77;
/** The follower's retry interval (follower.ts RETRY_MS). */
const RETRY_MS = 1_000;

function resultOf(request: TruncationRequest): TruncationResult {
  return {
    by: request.by,
    token: request.token,
    at: request.at ?? 0,
    after: request.after,
    directories: 2,
    blocks: 3,
    entries: 12,
    chains: [
      {
        chain: 'bank',
        blocks: { from: 2, to: 4 },
        entries: 12,
        seqs: { from: 8, end: 20 },
        directories: { from: 5, to: 6 },
        head: { nextHeight: 2, nextSeq: 8, lastBlockHash: '00'.repeat(32) },
      },
    ],
  };
}

/** Recording parts; each step can be replaced by a test. */
class Parts {
  /** What happened, in order: 'read', 'truncate', 'clear'. */
  readonly calls: string[] = [];
  readonly truncations: TruncationRequest[] = [];
  readonly clears: number[] = [];
  readonly lines: Record<string, unknown>[] = [];
  found: Found = null;
  busy: string | null = null;
  read: () => Promise<Found> = () => Promise.resolve(this.found);
  truncateWith: (request: TruncationRequest) => Promise<TruncationResult> = (request) => Promise.resolve(resultOf(request));
  clearWith: (revision: number) => Promise<boolean> = () => Promise.resolve(true);

  readonly follower = new Follower(this.parts());

  logged(event: string): Record<string, unknown>[] {
    return this.lines.filter((line) => line.event === event);
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }

  private parts(): FollowerParts {
    return {
      me: 'g1',
      readTakeover: () => {
        this.calls.push('read');
        return this.read();
      },
      notYet: () => this.busy,
      truncate: (request) => {
        this.calls.push('truncate');
        this.truncations.push(request);
        return this.truncateWith(request);
      },
      clear: (revision) => {
        this.calls.push('clear');
        this.clears.push(revision);
        return this.clearWith(revision);
      },
      log: pino({ level: 'debug' }, { write: (line: string) => void this.lines.push(JSON.parse(line) as Record<string, unknown>) }),
    };
  }
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Follower', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('with no takeover record: none, nothing truncated, nothing looked at again', async () => {
    const p = new Parts();
    expect(await p.follower.check()).toBe('none');
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.calls).toEqual(['read']);
  });

  it('truncates after the acknowledged height with the record’s taker, revision and time, then deletes the record at that revision', async () => {
    const p = new Parts();
    p.found = { record: RECORD, revision: REVISION };
    expect(await p.follower.check()).toBe('truncated');
    expect(p.truncations).toEqual([{ after: 4, by: 'g2', token: REVISION, at: RECORD.at }]);
    expect(p.clears).toEqual([REVISION]);
    expect(p.calls).toEqual(['read', 'truncate', 'clear']);
    expect(p.logged('replica-truncated')).toEqual([
      expect.objectContaining({
        by: 'g2',
        token: REVISION,
        after: 4,
        blocks: 3,
        entries: 12,
        chains: [{ chain: 'bank', seqs: { from: 8, end: 20 }, head: 8 }],
      }),
    ]);
    // A record that could not be deleted is left for the next look, and said so; the truncation stands.
    const q = new Parts();
    q.found = { record: RECORD, revision: REVISION };
    q.clearWith = () => Promise.reject(new Error('etcd unreachable'));
    expect(await q.follower.check()).toBe('truncated');
    expect(q.logged('replica-follower-retry')).toEqual([expect.objectContaining({ error: 'etcd unreachable' })]);
  });

  it('an unreadable record: refused, logged with why, nothing truncated, the record left, no retry', async () => {
    const p = new Parts();
    p.found = { record: { invalid: 'acked: a directory height, or -1' }, revision: REVISION };
    expect(await p.follower.check()).toBe('refused');
    expect(p.logged('replica-follower-refused')).toEqual([
      expect.objectContaining({ level: 50, revision: REVISION, error: 'acked: a directory height, or -1' }),
    ]);
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.calls).toEqual(['read']);
  });

  it('waits while entries are not sealed, looks again every second, and truncates once they are', async () => {
    const p = new Parts();
    p.found = { record: RECORD, revision: REVISION };
    p.busy = 'chain "bank" has entries not sealed yet';
    expect(await p.follower.check()).toBe('waiting');
    expect(p.logged('replica-follower-waiting')).toEqual([expect.objectContaining({ why: p.busy })]);
    expect(p.calls).toEqual(['read']);
    await vi.advanceTimersByTimeAsync(RETRY_MS - 1);
    expect(p.count('read')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(p.calls).toEqual(['read', 'read']);
    p.busy = null;
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(p.calls).toEqual(['read', 'read', 'read', 'truncate', 'clear']);
    expect(p.truncations).toHaveLength(1);
    // Done: nothing more is looked at.
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.count('read')).toBe(3);
  });

  it('a record etcd cannot give now is looked for again a second later', async () => {
    const p = new Parts();
    p.read = () => Promise.reject(new Error('etcd unreachable'));
    expect(await p.follower.check()).toBe('waiting');
    expect(p.logged('replica-follower-retry')).toEqual([expect.objectContaining({ error: 'etcd unreachable' })]);
    p.read = () => Promise.resolve({ record: RECORD, revision: REVISION });
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(p.calls).toEqual(['read', 'read', 'truncate', 'clear']);
  });

  it('a truncation the store refuses: refused, logged, the record left', async () => {
    const p = new Parts();
    p.found = { record: RECORD, revision: REVISION };
    p.truncateWith = () => Promise.reject(new TruncationError('chain "bank" has adopted blocks above the ones to remove'));
    expect(await p.follower.check()).toBe('refused');
    expect(p.clears).toEqual([]);
    expect(p.logged('replica-follower-refused')).toEqual([
      expect.objectContaining({ level: 50, by: 'g2', token: REVISION, error: 'chain "bank" has adopted blocks above the ones to remove' }),
    ]);
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.calls).toEqual(['read', 'truncate']);
  });

  it('a check while one runs looks once more after it, never two at once', async () => {
    const p = new Parts();
    const reads = [deferred<Found>(), deferred<Found>()];
    let running = 0;
    let most = 0;
    p.read = () => {
      most = Math.max(most, ++running);
      const next = reads[p.count('read') - 1]!.promise;
      return next.finally(() => running--);
    };
    const first = p.follower.check();
    // Asked three times meanwhile: one more look, after this one.
    const [second, third] = [p.follower.check(), p.follower.check()];
    expect(p.count('read')).toBe(1);
    reads[0]!.resolve(null);
    expect(await Promise.all([first, second, third])).toEqual(['none', 'none', 'none']);
    await vi.waitFor(() => expect(p.count('read')).toBe(2));
    reads[1]!.resolve({ record: RECORD, revision: REVISION });
    await vi.waitFor(() => expect(p.calls).toEqual(['read', 'read', 'truncate', 'clear']));
    expect(most).toBe(1);
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.count('read')).toBe(2);
  });

  it('a store failing under a truncation it runs by itself (a retry) is logged, not thrown where nobody waits', async () => {
    const p = new Parts();
    p.found = { record: RECORD, revision: REVISION };
    p.busy = 'chain "bank" has entries not sealed yet';
    expect(await p.follower.check()).toBe('waiting');
    p.busy = null;
    p.truncateWith = () => Promise.reject(new Error('the sealer thread is gone'));
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(p.calls).toEqual(['read', 'read', 'truncate']);
    expect(p.logged('replica-follower-failed')).toEqual([expect.objectContaining({ level: 50, error: 'the sealer thread is gone' })]);
    // A caller that waits hears it.
    await expect(p.follower.check()).rejects.toThrow('the sealer thread is gone');
    expect(p.clears).toEqual([]);
  });

  it('stop() cancels a pending retry, and the look asked for meanwhile', async () => {
    const p = new Parts();
    p.found = { record: RECORD, revision: REVISION };
    p.busy = 'chain "bank" has entries not sealed yet';
    expect(await p.follower.check()).toBe('waiting');
    p.follower.stop();
    p.busy = null;
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(p.calls).toEqual(['read']);

    const q = new Parts();
    const read = deferred<Found>();
    q.read = () => read.promise;
    const running = q.follower.check();
    void q.follower.check();
    q.follower.stop();
    read.resolve(null);
    expect(await running).toBe('none');
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(q.calls).toEqual(['read']);
  });
});
