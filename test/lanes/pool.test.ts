// A LanePool on its own: a real ring and real piscina workers (the compiled
// lane-thread.js) hashing ranges of it. Nothing here plays the sealer: the
// rings are large enough that no space needs to be freed.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { LanePool, type LanePoolOptions } from '../../src/lanes/index.js';
import { FrameReader, LIGHT, LaneCores, LoadCounters, forEachRecord, type RingView } from '../../src/ring/index.js';
import { registerCleanup, sha256Hex } from '../helpers/index.js';

/** A frame pushed into the pool; `id` is also its firstSeq in the ring record, so a record names its frame. */
interface Frame {
  id: number;
  chain: number;
  entries: string[];
  at: number;
}

interface Harness {
  pool: LanePool<Frame>;
  counters: LoadCounters;
  /** Frames in the order onFramesHashed reported them, each with the hashes it read from the ring then. */
  reported: { id: number; hashes: string[] }[];
  /** The `hashed` cursor at each onHashedAdvanced. */
  advances: number[];
  errors: { message: string; attempt: number }[];
  push(chain: number, entries: string[]): Frame;
}

const LIMITS = { maxEntryBytes: 4096, maxEntriesPerFrame: 256 };
/** The front door's walk of a frame: the ring record carries the entry spans it finds. */
const reader = new FrameReader(LIMITS);

function startPool(options: Partial<LanePoolOptions<Frame>> = {}): Harness {
  const counters = LoadCounters.allocate(8, 64);
  const reported: Harness['reported'] = [];
  const advances: number[] = [];
  const errors: Harness['errors'] = [];
  // Where the ring's records start: the cursors' first position.
  let firstPosition = 0;
  const readHashes = (view: RingView, frame: Frame): string[] => {
    const start = view.hashesStart(frame.at);
    return frame.entries.map((_, i) => Buffer.from(view.u8.subarray(start + 32 * i, start + 32 * i + 32)).toString('hex'));
  };
  const pool = new LanePool<Frame>({
    lane: LIGHT,
    ringBytes: 1 << 20,
    threads: 1,
    counters,
    laneCores: LaneCores.allocate(3),
    nice: 0,
    onFramesHashed: (done, view) => {
      for (const frame of done) reported.push({ id: frame.id, hashes: readHashes(view, frame) });
    },
    onHashedAdvanced: (view) => {
      const hashed = view.loadHashed();
      // Every record before `hashed` belongs to a frame already reported: the cursor passes finished tasks only.
      forEachRecord(view, firstPosition, hashed, (at) => {
        expect(
          reported.some((r) => r.id === view.firstSeq(at)),
          `record of frame ${view.firstSeq(at)} before hashed`,
        ).toBe(true);
      });
      advances.push(hashed);
    },
    onWorkerError: (error, attempt) => errors.push({ message: error.message, attempt }),
    ...options,
  });
  firstPosition = pool.view.loadHead();
  registerCleanup('the lane pool', () => (pool.up ? pool.close() : undefined));
  let next = 0;
  return {
    pool,
    counters,
    reported,
    advances,
    errors,
    push: (chain, entries) => {
      const bytes = pack(entries) as Uint8Array;
      const id = next++;
      const spans = new Int32Array(2 * entries.length);
      expect(reader.scan(bytes, 0, bytes.byteLength, spans)).toBe(entries.length);
      const at = pool.push(bytes, entries.length, chain, id, spans);
      if (at < 0) throw new Error(`ring full at frame ${id}`);
      const frame = { id, chain, entries, at };
      pool.submit(frame, entries.length, bytes.byteLength);
      return frame;
    },
  };
}

const entriesOf = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}/${i}`);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function expectHashedRight(h: Harness, sent: Frame[]): void {
  expect(h.reported.map((r) => r.id).sort((a, b) => a - b)).toEqual(sent.map((f) => f.id));
  for (const r of h.reported) expect(r.hashes, `frame ${r.id}`).toEqual(sent[r.id]!.entries.map((e) => sha256Hex(e)));
}

/** Entries counted for `chain` in every row of the load counters (workers' and the front door's own). */
function counted(counters: LoadCounters, chain: number): number {
  let total = 0;
  for (let slot = 0; slot < counters.slotsInUse(); slot++) total += counters.entries(slot, chain);
  return total;
}

describe('LanePool', () => {
  it('hashes every frame in place, reports each once, and moves hashed only over finished ranges, whatever order two workers finish in', async () => {
    const h = startPool({ threads: 2 });
    const sent: Frame[] = [];
    for (let round = 0; round < 12; round++) {
      // Uneven sizes, so one worker's task can finish before the other's that started first.
      for (let i = 0; i < 6; i++) sent.push(h.push(i % 3, entriesOf(`r${round}f${i}`, 5 + ((round * 7 + i * 13) % 120))));
      await turn();
    }
    await h.pool.drain();
    expectHashedRight(h, sent);
    expect(h.advances).toEqual([...h.advances].sort((a, b) => a - b));
    expect(h.advances.at(-1)).toBe(h.pool.view.loadHead());
    for (const chain of [0, 1, 2]) {
      expect(counted(h.counters, chain)).toBe(sent.filter((f) => f.chain === chain).reduce((n, f) => n + f.entries.length, 0));
    }
    const stats = h.pool.stats();
    expect(stats).toMatchObject({ entries: sent.reduce((n, f) => n + f.entries.length, 0), retries: 0, backlogFrames: 0 });
    // A task takes everything pending: never more tasks than turns that pushed frames.
    expect(stats.tasks).toBeLessThanOrEqual(12);
    expect(h.errors).toEqual([]);
  });

  it('gives everything pushed in one turn to one task', async () => {
    const h = startPool();
    const sent = Array.from({ length: 50 }, (_, i) => h.push(0, entriesOf(`one-turn-${i}`, 6)));
    await h.pool.drain();
    expectHashedRight(h, sent);
    expect(h.pool.stats()).toMatchObject({ tasks: 1, inlineFrames: 0 });
    // One report for the whole task, in ring order.
    expect(h.reported.map((r) => r.id)).toEqual(sent.map((f) => f.id));
  });

  it('hashes a small frame itself while the lane is idle, and hands small frames to workers while it is not', async () => {
    const h = startPool();
    const first = h.push(0, ['tiny', 'frame']);
    // Before submit returned.
    expect(h.reported).toEqual([{ id: first.id, hashes: ['tiny', 'frame'].map((e) => sha256Hex(e)) }]);
    expect(h.advances).toEqual([h.pool.view.loadHead()]);
    const busy = h.push(0, entriesOf('busy', 64));
    const small = h.push(0, ['small']);
    expect(h.reported).toHaveLength(1);
    expect(h.pool.backlog).toBe(2);
    await h.pool.drain();
    expectHashedRight(h, [first, busy, small]);
    expect(h.pool.stats()).toMatchObject({ inlineFrames: 1, backlogFrames: 0 });
    expect(counted(h.counters, 0)).toBe(2 + 64 + 1);
  });

  it('retries the range of a worker that died on another, in order, and answers every frame', async () => {
    // Each worker exits on its second task (CHAINLANES_TEST_FAULTS crashWorkerAfterTasks); piscina starts another.
    const h = startPool({ crashAfterTasks: 2 });
    const sent: Frame[] = [];
    for (let i = 0; i < 8; i++) {
      sent.push(h.push(1, entriesOf(`crash-${i}`, 8)));
      await h.pool.drain();
    }
    expectHashedRight(h, sent);
    expect(h.reported.map((r) => r.id)).toEqual(sent.map((f) => f.id));
    expect(h.errors.length).toBeGreaterThanOrEqual(3);
    expect(h.errors.every((e) => e.attempt === 1)).toBe(true);
    expect(h.pool.stats()).toMatchObject({ retries: h.errors.length, tasks: 8 });
  });

  it('hashes a range itself after it failed on workers three times', async () => {
    // Every worker dies on its first task: the range can only be hashed by the front door.
    const h = startPool({ crashAfterTasks: 1 });
    const sent = [h.push(2, entriesOf('doomed', 8))];
    await h.pool.drain();
    sent.push(h.push(2, entriesOf('doomed-too', 8)));
    await h.pool.drain();
    expectHashedRight(h, sent);
    expect(h.errors.map((e) => e.attempt)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(h.pool.stats()).toMatchObject({ retries: 6, tasks: 2, entries: 16 });
  });

  it('drains what it holds when closed, and is no longer up', async () => {
    const h = startPool({ threads: 2 });
    expect(h.pool.up).toBe(true);
    const sent = Array.from({ length: 20 }, (_, i) => h.push(0, entriesOf(`closing-${i}`, 10)));
    await h.pool.close();
    expectHashedRight(h, sent);
    expect(h.pool.up).toBe(false);
  });
});
