// The front door's cores follow the heavy lane: free to move while it is empty,
// back on its own cores as soon as a chain is heavy.
import { describe, expect, it } from 'vitest';
import { FrontDoorCores } from '../../src/balancer/index.js';
import { silentLogger } from '../../src/log/index.js';
import { HEAVY, LIGHT } from '../../src/ring/index.js';
import type { LaneBalance, SchedulerEvent } from '../../src/scheduler/index.js';

function balance(heavyChains: number): SchedulerEvent {
  const lane = (chains: number): LaneBalance => ({
    capacity: { entriesPerSec: 1, bytesPerSec: 1 },
    demand: { entriesPerSec: 0, bytesPerSec: 0 },
    load: 0,
    correction: 1,
    chains,
  });
  return { type: 'balance', lanes: [lane(heavyChains), lane(0), lane(3)], headroom: 0.8 };
}

function toHeavy(): SchedulerEvent {
  return { type: 'lane-change', slot: 0, from: LIGHT, to: HEAVY, reason: 'table', entriesPerSec: 5_000, bytesPerSec: 1e6 };
}

function recorder(layout: { frontdoor: number[]; frontdoorQuiet: number[] }): { cores: FrontDoorCores; pins: number[][] } {
  const pins: number[][] = [];
  return { cores: new FrontDoorCores(layout, (c) => pins.push([...c]), silentLogger()), pins };
}

describe('front door cores', () => {
  it('frees the front door while no chain is heavy and pins it back the moment one is', () => {
    const { cores, pins } = recorder({ frontdoor: [0], frontdoorQuiet: [0, 1] });
    expect(cores.cores).toEqual([0]);
    cores.onSchedulerEvent(balance(0));
    expect(pins).toEqual([[0, 1]]);
    expect(cores.cores).toEqual([0, 1]);
    // A chain moved into the heavy lane pins it at once, before the next balance.
    cores.onSchedulerEvent(toHeavy());
    expect(pins).toEqual([[0, 1], [0]]);
    // Nothing changes while the heavy lane keeps a chain; each change is one pin.
    cores.onSchedulerEvent(balance(1));
    cores.onSchedulerEvent(toHeavy());
    expect(pins).toHaveLength(2);
    cores.onSchedulerEvent(balance(0));
    expect(pins.at(-1)).toEqual([0, 1]);
  });

  it('never moves the front door when the layout gives it the same cores either way', () => {
    const { cores, pins } = recorder({ frontdoor: [0], frontdoorQuiet: [0] });
    expect(cores.moves).toBe(false);
    cores.onSchedulerEvent(balance(0));
    cores.onSchedulerEvent(toHeavy());
    expect(pins).toEqual([]);
    expect(cores.cores).toEqual([0]);
  });
});
