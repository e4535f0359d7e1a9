// The front door's turns measured whole by the native addon's check handle:
// every turn counted, a long one recorded with what the callbacks counted in
// it, an idle loop left asleep, and the window's worst logged once it ends.
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { RECORD_MS, TURN_BOUNDS_S, TURN_COUNTS, TurnMeter } from '../../src/defence/index.js';
import { jsAddon, nativeAddon } from '../../src/native/index.js';
import { silentLogger } from '../../src/log/index.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* the turn runs long */
  }
}

/** CLOCK_MONOTONIC in ms, as libuv reads it. */
const monotonicNowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

describe.skipIf(nativeAddon() === null)('TurnMeter', () => {
  it('counts every turn, and records a long one with its counts and its CPU time', async () => {
    const meter = new TurnMeter(silentLogger());
    try {
      expect(meter.measuring).toBe(true);
      meter.drain();
      const before = meter.totals();
      const monotonicBefore = monotonicNowMs();
      await nextTurn();
      await nextTurn();
      // A turn that runs 3 × RECORD_MS and counts 7 frames, 2 opens.
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          meter.counts[TURN_COUNTS.frames]! += 7;
          meter.counts[TURN_COUNTS.opens]! += 2;
          spin(3 * RECORD_MS);
          resolve();
        }, 1),
      );
      await nextTurn();
      const after = meter.totals();
      expect(after.turns - before.turns).toBeGreaterThanOrEqual(3);
      expect(after.busySeconds - before.busySeconds).toBeGreaterThanOrEqual((3 * RECORD_MS) / 1000);
      expect(after.cpuSeconds).toBeGreaterThan(before.cpuSeconds);
      expect(after.longestBusySeconds).toBeGreaterThanOrEqual((3 * RECORD_MS) / 1000);
      expect(after.buckets).toHaveLength(TURN_BOUNDS_S.length + 1);
      expect(after.buckets.reduce((n, b) => n + b, 0)).toBe(after.turns);

      const long = meter.drain();
      const spun = long.find((t) => t.counts.frames === 7);
      expect(spun, JSON.stringify(long)).toBeDefined();
      expect(spun!.counts.opens).toBe(2);
      expect(spun!.counts.closes).toBe(0);
      expect(spun!.busyMs).toBeGreaterThanOrEqual(3 * RECORD_MS);
      expect(spun!.cpuMs).toBeGreaterThan(0);
      expect(spun!.cpuMs).toBeLessThanOrEqual(spun!.busyMs + 1);
      expect(Math.abs(spun!.endedAt - Date.now())).toBeLessThan(60_000);
      // The same end on the monotonic clock (what perf's CLOCK_MONOTONIC traces are matched by): after the spin began, before now.
      expect(spun!.monotonicMs).toBeGreaterThanOrEqual(monotonicBefore + 3 * RECORD_MS);
      expect(spun!.monotonicMs).toBeLessThanOrEqual(monotonicNowMs());
      // The counts were zeroed when the turn ended, and a drain reads each record once.
      expect(Array.from(meter.counts)).toEqual(Array.from(meter.counts, () => 0));
      expect(meter.drain().some((t) => t.counts.frames === 7)).toBe(false);
    } finally {
      meter.stop();
    }
  });

  it('does not count turns the loop does not take: an idle wait is one turn, not many', async () => {
    const meter = new TurnMeter(silentLogger());
    try {
      await nextTurn();
      const before = meter.totals().turns;
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The timer's own wake-up and little else: a handle that woke the loop would count hundreds.
      expect(meter.totals().turns - before).toBeLessThan(10);
    } finally {
      meter.stop();
    }
  });

  it('logs the worst turns of a window with their counts, once the window is over', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const meter = new TurnMeter(log);
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        meter.counts[TURN_COUNTS.refused]! += 3;
        spin(2 * RECORD_MS);
        resolve();
      }, 1),
    );
    await nextTurn();
    meter.drain();
    expect(lines).toEqual([]);
    // Stopping ends the window.
    meter.stop();
    const logged = lines.find((l) => l.event === 'long-turns');
    expect(logged).toBeDefined();
    expect(logged!.turns).toBeGreaterThanOrEqual(1);
    const worst = logged!.worst as { busyMs: number; counts: Record<string, number> }[];
    expect(worst.some((t) => t.counts.refused === 3 && t.busyMs >= 2 * RECORD_MS)).toBe(true);
    expect(String(logged!.msg)).toMatch(/turns of the front door were busy 5 ms or more/);
    expect(logged!.level).toBe(pino.levels.values.warn);
  });

  it('says at info, not as a warning, when the long turns only waited for a core', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const meter = new TurnMeter(log);
    // A turn held off its core: blocked (no CPU used) for twice the record threshold, as a descheduled thread is.
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 * RECORD_MS);
        resolve();
      }, 1),
    );
    await nextTurn();
    meter.drain();
    meter.stop();
    const logged = lines.find((l) => l.event === 'long-turns');
    expect(logged).toBeDefined();
    expect(logged!.level).toBe(pino.levels.values.info);
    expect(String(logged!.msg)).toMatch(/the thread waited for a core/);
    const worst = logged!.worst as { busyMs: number; cpuMs: number }[];
    expect(worst[0]!.busyMs).toBeGreaterThanOrEqual(2 * RECORD_MS);
    expect(worst[0]!.cpuMs).toBeLessThan(RECORD_MS);
  });

  it('shares one measurement among the meters of a thread, and stops it with the last', async () => {
    const a = new TurnMeter(silentLogger());
    const b = new TurnMeter(silentLogger());
    await nextTurn();
    a.stop();
    const turns = b.totals().turns;
    await nextTurn();
    await nextTurn();
    expect(b.totals().turns).toBeGreaterThan(turns);
    b.stop();
    // A new meter starts a new measurement.
    const c = new TurnMeter(silentLogger());
    expect(c.totals().turns).toBeLessThanOrEqual(1);
    c.stop();
  });
});

describe('the JS fallback', () => {
  it('measures nothing, and says so', () => {
    expect(jsAddon.watchLoopTurns(new Float64Array(10), new Float64Array(1), 1, 1, 0)).toBe(false);
    expect(() => jsAddon.watchLoopTurns([] as unknown as Float64Array, new Float64Array(1), 1, 1, 0)).toThrow(TypeError);
  });

  it.skipIf(nativeAddon() === null)('and the addon checks the slots it is given', () => {
    expect(() => nativeAddon()!.watchLoopTurns(new Float64Array(3), new Float64Array(1), 1, 1, 0)).toThrow(/slots must hold exactly/);
  });
});
