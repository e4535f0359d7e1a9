// The ReplicaGate in the real commit hop (docs/replicas.md part 4): real lane
// pools hash, a real sealer thread seals into a store, and its `sealed`
// events go through the gate. `committed` notices (and the chains' committed
// seqs) move only when the standby's `durable n` is given to the gate; a
// standby lost for `lostAfterMs` makes admission's answer `busy` (wait) or
// sends the held notices with `alone: true` once going alone is recorded
// (alone); too many held bytes make it `busy` either way. The gate reads no
// clock: the test gives it the time, so "lost" needs no waiting.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { type CommitRelease, type PendingFrame, type SealedEvent } from '../../src/frontdoor/index.js';
import { ReplicaGate, type ReplicaGateOptions } from '../../src/replicas/index.js';
import { RecordingOwner, admitted, startFrontDoor, type FrontDoor } from '../helpers/front-door.js';

const LOST_AFTER_MS = 5_000;

interface Gated {
  door: FrontDoor;
  gate: ReplicaGate<{ event: SealedEvent; release: CommitRelease }>;
  /** Directory heights the sealer made durable here, in order. */
  sealedHeights: number[];
  /** The gate's clock, moved by the test. */
  clock: { now: number };
  inStep: number[];
}

async function gated(options: Partial<ReplicaGateOptions<unknown>> = {}): Promise<Gated> {
  const clock = { now: 0 };
  const sealedHeights: number[] = [];
  const inStep: number[] = [];
  const gate = new ReplicaGate<{ event: SealedEvent; release: CommitRelease }>(
    {
      whenStandbyLost: 'wait',
      lostAfterMs: LOST_AFTER_MS,
      maxUnreplicatedBytes: 1 << 30,
      ...options,
      release: ({ event, release }, alone) => release(event, alone),
      inStep: () => inStep.push(clock.now),
    },
    clock.now,
  );
  gate.standby('g2', clock.now);
  const door = await startFrontDoor({
    hold: (event, release) => {
      sealedHeights.push(event.directory.height);
      // The seal's bytes: its entries' count stands in here (the wiring counts the records').
      gate.hold(
        event.directory.height,
        event.blocks.reduce((n, b) => n + b.count, 0),
        { event, release },
        clock.now,
      );
    },
  });
  return { door, gate, sealedHeights, clock, inStep };
}

function admit(door: FrontDoor, chain: string, owner: RecordingOwner, frame: number, n = 6): PendingFrame {
  return admitted(door.admission.admit(chain, pack(Array.from({ length: n }, (_, i) => `${chain}-${frame}-${i}`)), owner, frame));
}

/** Seals what was admitted so far (one directory) and waits until the sealer reported it. */
async function sealNow(g: Gated): Promise<number> {
  const before = g.sealedHeights.length;
  await Promise.all(g.door.pools.map((pool) => pool.drain()));
  g.door.admission.cutBlocks();
  await expect.poll(() => g.sealedHeights.length, { timeout: 20_000, interval: 5 }).toBeGreaterThan(before);
  return g.sealedHeights.at(-1)!;
}

type Notice = { height: number; seq: number; count: number; directory: number; alone?: boolean };
const notices = (owner: RecordingOwner) => owner.notices as Notice[];

describe('ReplicaGate in the commit hop', () => {
  it('holds every `committed` until the standby says durable, then releases in directory order up to it', async () => {
    const g = await gated();
    const owner = new RecordingOwner();
    const heights: number[] = [];
    for (let s = 0; s < 3; s++) {
      admit(g.door, 'alpha', owner, 2 * s);
      admit(g.door, 'beta', owner, 2 * s + 1);
      heights.push(await sealNow(g));
    }
    expect(heights).toEqual([0, 1, 2]);
    // Durable here, not on the standby: no notice, committed seqs do not move; sealing's own progress does.
    expect(notices(owner)).toEqual([]);
    expect(g.door.chains.all().map((c) => c.committedSeq)).toEqual([0, 0]);
    expect(g.door.seals.directoryHeight).toBe(2);
    expect(g.gate.view(g.clock.now)).toMatchObject({ standby: 'g2', state: 'behind', behind: 3, acked: -1 });
    g.gate.durable(1, (g.clock.now += 100));
    expect(notices(owner).map((n) => n.directory)).toEqual([0, 0, 1, 1]);
    expect(g.door.chains.get('alpha')!.committedSeq).toBe(12);
    expect(g.gate.view(g.clock.now)).toMatchObject({ state: 'behind', behind: 1, acked: 1 });
    g.gate.durable(2, (g.clock.now += 100));
    expect(notices(owner).map((n) => n.directory)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(notices(owner).every((n) => n.alone === undefined)).toBe(true);
    expect(g.door.chains.all().map((c) => c.committedSeq)).toEqual([18, 18]);
    expect(g.gate.view(g.clock.now)).toMatchObject({ state: 'in-step', behind: 0, heldBytes: 0 });
    // An old or repeated acknowledgement changes nothing.
    g.gate.durable(1, g.clock.now);
    expect(notices(owner)).toHaveLength(6);
  });

  it('wait: a standby silent for lostAfterMs with seals held is lost; admission answers busy naming it and the setting; its acknowledgement releases all', async () => {
    const g = await gated({ whenStandbyLost: 'wait' });
    const owner = new RecordingOwner();
    admit(g.door, 'alpha', owner, 0);
    await sealNow(g);
    expect(g.gate.busy((g.clock.now += LOST_AFTER_MS - 1))).toBeNull();
    expect(g.gate.view(g.clock.now).state).toBe('behind');
    const busy = g.gate.busy((g.clock.now += 1));
    expect(busy).toMatch(/^standby "g2" lost 5\.0 s ago \(fleet\.whenStandbyLost: wait\)/);
    expect(g.gate.view(g.clock.now)).toMatchObject({ state: 'lost', since: g.clock.now, behind: 1 });
    admit(g.door, 'alpha', owner, 1);
    await sealNow(g);
    expect(notices(owner)).toEqual([]);
    // It comes back (SIGCONT, a new stream's hello) and acknowledges everything: all released, in step.
    g.gate.durable(1, (g.clock.now += 10));
    expect(notices(owner).map((n) => [n.directory, n.alone])).toEqual([
      [0, undefined],
      [1, undefined],
    ]);
    expect(g.gate.busy(g.clock.now)).toBeNull();
    expect(g.gate.view(g.clock.now)).toMatchObject({ state: 'in-step', since: null });
  });

  it('alone: once going alone is recorded, held and later notices go out with alone: true; back in step when the standby has them all', async () => {
    let record: (() => void) | null = null;
    const froms: number[] = [];
    const g = await gated({
      whenStandbyLost: 'alone',
      goAlone: (from) => {
        froms.push(from);
        return new Promise<void>((resolve) => (record = resolve));
      },
    });
    const owner = new RecordingOwner();
    admit(g.door, 'alpha', owner, 0);
    await sealNow(g);
    g.gate.durable(0, (g.clock.now += 1));
    admit(g.door, 'alpha', owner, 1);
    await sealNow(g);
    expect(g.gate.check((g.clock.now += LOST_AFTER_MS))).toBe('lost');
    expect(froms).toEqual([1]);
    // Not a notice leaves before the record is written (etcd: replica/{g} alone from 1).
    expect(notices(owner).map((n) => n.directory)).toEqual([0]);
    expect(g.gate.busy(g.clock.now)).toBeNull(); // alone never answers busy for the standby
    record!();
    await expect.poll(() => notices(owner).length).toBe(2);
    expect(notices(owner)[1]).toMatchObject({ directory: 1, alone: true });
    admit(g.door, 'alpha', owner, 2);
    await sealNow(g);
    expect(notices(owner)[2]).toMatchObject({ directory: 2, alone: true });
    expect(g.gate.view(g.clock.now).state).toBe('alone');
    // The standby catches up with everything released alone: in step, and the next seal is held again.
    g.gate.durable(2, (g.clock.now += 1));
    expect(g.inStep).toEqual([g.clock.now]);
    expect(g.gate.view(g.clock.now).state).toBe('in-step');
    admit(g.door, 'alpha', owner, 3);
    await sealNow(g);
    expect(notices(owner)).toHaveLength(3);
    g.gate.durable(3, (g.clock.now += 1));
    expect(notices(owner)[3]).toMatchObject({ directory: 3 });
    expect(notices(owner)[3]!.alone).toBeUndefined();
  });

  it('maxUnreplicatedBytes: held bytes past it make admission busy whatever whenStandbyLost says; no standby named for lostAfterMs is lost too', async () => {
    const g = await gated({ whenStandbyLost: 'alone', maxUnreplicatedBytes: 10, goAlone: () => new Promise(() => undefined) });
    const owner = new RecordingOwner();
    admit(g.door, 'alpha', owner, 0, 6);
    await sealNow(g);
    expect(g.gate.busy(g.clock.now)).toBeNull();
    admit(g.door, 'alpha', owner, 1, 6);
    await sealNow(g);
    expect(g.gate.busy(g.clock.now)).toMatch(/^12 bytes sealed here are not yet on the standby "g2" \(fleet\.maxUnreplicatedBytes: 10\)/);
    g.gate.durable(1, g.clock.now);
    expect(g.gate.busy(g.clock.now)).toBeNull();
    // The standby leaves and no other is named.
    const wait = await gated({ whenStandbyLost: 'wait' });
    wait.gate.standby(null, wait.clock.now);
    expect(wait.gate.busy((wait.clock.now += LOST_AFTER_MS))).toMatch(/^no standby is named for this gateway 5\.0 s ago \(fleet\.whenStandbyLost: wait\)/);
    wait.gate.standby('g3', wait.clock.now);
    expect(wait.gate.busy(wait.clock.now)).toBeNull();
  });
});

describe('ReplicaGate.truncated (a returning owner truncated its seals above a height)', () => {
  /** A gate on its own: events are the seals' names, released in order with their `alone`. */
  function plainGate(maxUnreplicatedBytes = 1 << 30) {
    const clock = { now: 0 };
    const released: [string, boolean][] = [];
    const gate = new ReplicaGate<string>(
      { whenStandbyLost: 'wait', lostAfterMs: LOST_AFTER_MS, maxUnreplicatedBytes, release: (event, alone) => released.push([event, alone]) },
      clock.now,
    );
    gate.standby('g2', clock.now);
    return { gate, clock, released };
  }

  it('drops the held seals above it, never released, and keeps those at or below it for `durable`; heldBytes and behind follow', () => {
    const { gate, clock, released } = plainGate(100);
    [10, 20, 30, 40, 50].forEach((bytes, height) => gate.hold(height, bytes, `d${height}`, clock.now));
    gate.durable(0, (clock.now += 1));
    expect(released).toEqual([['d0', false]]);
    expect(gate.view(clock.now)).toMatchObject({ state: 'behind', behind: 4, heldBytes: 140, acked: 0 });
    expect(gate.busy(clock.now)).toMatch(/^140 bytes sealed here are not yet on the standby "g2"/);

    expect(gate.truncated(2)).toBe(2);
    expect(gate.view(clock.now)).toMatchObject({ state: 'behind', behind: 2, heldBytes: 50, acked: 0 });
    expect(gate.busy(clock.now)).toBeNull();
    expect(released).toHaveLength(1);

    // The standby's word above the gone seals releases the kept ones only.
    gate.durable(4, (clock.now += 1));
    expect(released).toEqual([
      ['d0', false],
      ['d1', false],
      ['d2', false],
    ]);
    expect(gate.view(clock.now)).toMatchObject({ state: 'in-step', behind: 0, heldBytes: 0, acked: 4 });

    // Sealing goes on above the gone heights: held and released as ever.
    gate.hold(5, 5, 'd5', clock.now);
    expect(gate.view(clock.now)).toMatchObject({ state: 'behind', behind: 1, heldBytes: 5 });
    gate.durable(5, (clock.now += 1));
    expect(released.at(-1)).toEqual(['d5', false]);
    expect(gate.view(clock.now)).toMatchObject({ state: 'in-step', behind: 0, heldBytes: 0 });
  });

  it('counts no gone seal as behind while the standby has not passed it, and a truncation with nothing above it changes nothing', () => {
    const { gate, clock, released } = plainGate();
    [1, 2, 3].forEach((bytes, height) => gate.hold(height, bytes, `d${height}`, clock.now));
    expect(gate.truncated(5)).toBe(0);
    expect(gate.view(clock.now)).toMatchObject({ behind: 3, heldBytes: 6 });
    // The standby acknowledged up to 0 (the takeover record's height): everything above it goes.
    expect(gate.truncated(0)).toBe(2);
    gate.durable(0, (clock.now += 1));
    expect(released).toEqual([['d0', false]]);
    expect(gate.view(clock.now)).toMatchObject({ state: 'in-step', behind: 0, heldBytes: 0, acked: 0 });
    // Not lost for holding nothing, however long no word comes.
    expect(gate.view((clock.now += 2 * LOST_AFTER_MS)).state).toBe('in-step');
    // A repeat of the same truncation, and then new seals: counted from the last one sealed, not from the gone ones.
    expect(gate.truncated(0)).toBe(0);
    gate.hold(3, 7, 'd3', clock.now);
    expect(gate.view(clock.now)).toMatchObject({ state: 'behind', behind: 1, heldBytes: 7 });
    gate.durable(3, (clock.now += 1));
    expect(released.at(-1)).toEqual(['d3', false]);
    expect(gate.view(clock.now)).toMatchObject({ state: 'in-step', behind: 0 });
  });
});
