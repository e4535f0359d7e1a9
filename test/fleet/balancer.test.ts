// The fleet balancer's rules on synthetic loads (it is pure over numbers and
// a clock): only an overloaded gateway gives a chain away, after being over the
// headroom long enough; the chain is the one that relieves it most and fits
// elsewhere within the headroom; cool-downs and the hourly budget hold; stale
// reports are not trusted; an overload nothing can relieve is said once.
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET_BALANCER, FleetBalancer, type GatewayLoad } from '../../src/fleet/index.js';

const CAP = { entriesPerSec: 100_000, bytesPerSec: 100e6 };
const settings = {
  ...DEFAULT_FLEET_BALANCER,
  headroom: 0.8,
  overloadedForMs: 10_000,
  chainCooldownMs: 600_000,
  gatewayCooldownMs: 60_000,
  maxMovesPerHour: 3,
  staleReportMs: 30_000,
};

function gw(id: string, chains: [string, number, number?][], at = 0, capacity = CAP): GatewayLoad {
  const top = chains
    .map(([name, entriesPerSec, bytesPerSec]) => ({ name, entriesPerSec, bytesPerSec: bytesPerSec ?? 0 }))
    .sort((a, b) => b.entriesPerSec - a.entriesPerSec);
  return {
    id,
    capacity,
    reportedAt: at,
    top,
    demand: { entriesPerSec: top.reduce((s, c) => s + c.entriesPerSec, 0), bytesPerSec: top.reduce((s, c) => s + c.bytesPerSec, 0) },
  };
}

describe('fleet balancer', () => {
  it('moves nothing while every gateway is within the headroom', () => {
    const b = new FleetBalancer(settings);
    expect(b.decide([gw('a', [['x', 79_000]]), gw('b', [['y', 10_000]])], 0)).toEqual({ kind: 'none' });
    expect(b.decide([gw('a', [['x', 79_000]], 20_000), gw('b', [['y', 10_000]], 20_000)], 20_000)).toEqual({ kind: 'none' });
  });

  it('waits until a gateway has been over the headroom for overloadedForMs, then moves the chain that relieves it most and fits, to the least loaded after', () => {
    const b = new FleetBalancer(settings);
    // a: 0.95. The whale (0.5) fits nowhere under 0.8 (b 0.9, c 0.85 after); mid (0.3) fits on b (0.7) and c (0.65): c.
    const fleet = (t: number) => [
      gw(
        'a',
        [
          ['whale', 50_000],
          ['mid', 30_000],
          ['small', 15_000],
        ],
        t,
      ),
      gw('b', [['y', 40_000]], t),
      gw('c', [['z', 35_000]], t),
    ];
    expect(b.decide(fleet(0), 0)).toEqual({ kind: 'none' });
    expect(b.decide(fleet(9_999), 9_999)).toEqual({ kind: 'none' });
    const decision = b.decide(fleet(10_000), 10_000);
    expect(decision).toEqual({
      kind: 'move',
      move: {
        chain: 'mid',
        from: 'a',
        to: 'c',
        relief: 0.3,
        fromLoad: 0.95,
        fromLoadAfter: expect.closeTo(0.65, 9),
        toLoad: 0.35,
        toLoadAfter: expect.closeTo(0.65, 9),
        headroom: 0.8,
        entriesPerSec: 30_000,
        bytesPerSec: 0,
      },
    });
  });

  it('skips a chain too big for every other gateway and takes the next largest that fits', () => {
    const b = new FleetBalancer({ ...settings, overloadedForMs: 0 });
    const d = b.decide(
      [
        gw('a', [
          ['whale', 60_000],
          ['mid', 30_000],
        ]),
        gw('b', [['y', 40_000]]),
        gw('c', [['z', 30_000]]),
      ],
      0,
    );
    // whale (0.6) would put c at 0.9: no. mid (0.3) goes to c (0.6 after), not b (0.7 after).
    expect(d.kind === 'move' && d.move).toMatchObject({ chain: 'mid', from: 'a', to: 'c', relief: 0.3, toLoadAfter: 0.6 });
  });

  it("counts bytes as well as entries (the lanes' linear model)", () => {
    const b = new FleetBalancer({ ...settings, overloadedForMs: 0 });
    // a: 0.2 (entries) + 0.7 (bytes) = 0.9.
    const d = b.decide(
      [
        gw('a', [
          ['blobs', 10_000, 60e6],
          ['tiny', 10_000, 10e6],
        ]),
        gw('b', [['y', 10_000]]),
      ],
      0,
    );
    expect(d.kind === 'move' && d.move).toMatchObject({
      chain: 'blobs',
      relief: expect.closeTo(0.7, 9),
      fromLoad: expect.closeTo(0.9, 9),
      toLoadAfter: expect.closeTo(0.8, 9),
    });
  });

  it('says once per episode that nothing can relieve an overloaded gateway, and again after it recovered and overloaded anew', () => {
    const b = new FleetBalancer({ ...settings, overloadedForMs: 0 });
    const hot = (t: number) => [gw('a', [['whale', 90_000]], t), gw('b', [['y', 50_000]], t)];
    expect(b.decide(hot(0), 0)).toEqual({
      kind: 'overloaded',
      gateway: 'a',
      load: 0.9,
      headroom: 0.8,
      why: 'none of its busiest chains fits on another gateway within the headroom (or they moved recently)',
    });
    expect(b.decide(hot(1_000), 1_000)).toEqual({ kind: 'none' });
    expect(b.decide([gw('a', [['whale', 70_000]], 2_000), gw('b', [['y', 50_000]], 2_000)], 2_000)).toEqual({ kind: 'none' });
    expect(b.decide(hot(3_000), 3_000).kind).toBe('overloaded');
  });

  it('holds the cool-downs: the moved chain stays, both gateways rest, and the hourly budget is kept', () => {
    const b = new FleetBalancer({ ...settings, overloadedForMs: 0, maxMovesPerHour: 3 });
    // The reports never catch up here (a and e stay at 0.87): only the cool-downs keep the balancer from moving on and on.
    const fleet = (t: number) => [
      gw(
        'a',
        [
          ['a1', 30_000],
          ['a2', 29_000],
          ['a3', 28_000],
        ],
        t,
      ),
      gw(
        'e',
        [
          ['e1', 30_000],
          ['e2', 29_000],
          ['e3', 28_000],
        ],
        t,
      ),
      gw('b', [], t),
      gw('c', [], t),
      gw('d', [], t),
    ];
    const moves: string[] = [];
    const step = (t: number): string => {
      const d = b.decide(fleet(t), t);
      if (d.kind === 'move') {
        b.moved(d.move, t);
        moves.push(`${d.move.chain} ${d.move.from}→${d.move.to}`);
        return 'move';
      }
      return d.kind === 'overloaded' ? `overloaded ${d.gateway}: ${d.why}` : 'none';
    };
    expect(step(0)).toBe('move');
    // a rests; e moves, but not to b (which just took a chain).
    expect(step(1_000)).toBe('move');
    // Both rest now.
    expect(step(2_000)).toBe('none');
    // a may give again: a1 is cooling down, a2 goes.
    expect(step(61_000)).toBe('move');
    expect(moves).toEqual(['a1 a→b', 'e1 e→c', 'a2 a→b']);
    // e has rested; a rests again. The budget is spent: said once for e, then once for a when it may give again.
    expect(step(62_000)).toBe('overloaded e: the fleet made its 3 moves of the last hour (balancer.maxMovesPerHour)');
    expect(step(63_000)).toBe('none');
    expect(step(122_000)).toBe('overloaded a: the fleet made its 3 moves of the last hour (balancer.maxMovesPerHour)');
    expect(step(3_600_001)).toBe('move');
  });

  it('does not trust a stale report: the gateway is neither a source nor a target', () => {
    const b = new FleetBalancer({ ...settings, overloadedForMs: 0 });
    expect(b.decide([gw('a', [['x', 95_000]], 0), gw('b', [], 0)], 40_000)).toEqual({ kind: 'none' });
    const d = b.decide(
      [
        gw(
          'a',
          [
            ['x', 50_000],
            ['y', 45_000],
          ],
          40_000,
        ),
        gw('b', [], 0),
        gw('c', [], 40_000),
      ],
      40_000,
    );
    expect(d.kind === 'move' && d.move.to).toBe('c');
  });
});
