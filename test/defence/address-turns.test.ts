// The share's decisions, driven turn by turn with a real clock: which address
// is barred, for how long, and which never is.
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { AddressTurns, EventLoopTurns, loopTurnsOf, maxMinLevel, TurnMeter } from '../../src/defence/index.js';
import { silentLogger } from '../../src/log/index.js';
import { nativeLoaded } from '../../src/native/index.js';

/** A stream that records being cut off. */
class Stream {
  cutOff: string | null = null;
  cutOffForTurns(reason: string): void {
    this.cutOff = reason;
  }
}

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* the turn runs long */
  }
}

function share(firstBarMs = 50, maxBarMs = 150): AddressTurns {
  return new AddressTurns({ turnBudgetMs: 2, firstBarMs, maxBarMs }, silentLogger());
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('EventLoopTurns', () => {
  /** The same number all through a turn, another in each later turn. */
  async function numbersTurns(turns: EventLoopTurns): Promise<void> {
    const first = turns.now();
    expect(turns.now()).toBe(first);
    await nextTurn();
    const second = turns.now();
    expect(second).not.toBe(first);
    expect(turns.now()).toBe(second);
    await nextTurn();
    expect(turns.now()).not.toBe(second);
  }

  it('numbers turns by itself (a setImmediate per turn that asks)', async () => {
    await numbersTurns(new EventLoopTurns());
  });

  it("numbers turns by the turn meter's native count where it runs, and by itself where it does not", async () => {
    const meter = new TurnMeter(silentLogger());
    try {
      const turns = loopTurnsOf(meter);
      await numbersTurns(turns);
      // With the addon, read from the meter, not counted: the two agree, turn after turn.
      expect(meter.measuring).toBe(nativeLoaded);
      if (meter.measuring) {
        expect(turns.now()).toBe(meter.turnsEnded());
        await nextTurn();
        expect(turns.now()).toBe(meter.turnsEnded());
      }
    } finally {
      meter.stop();
    }
  });
});

describe('maxMinLevel', () => {
  it('gives those under the level all they used and holds the rest to the level', () => {
    expect(maxMinLevel([600, 125_000, 125_000], 8_600)).toBe(4_000);
    expect(maxMinLevel([10, 20], 100)).toBe(Infinity);
    expect(maxMinLevel([50, 50], 60)).toBe(30);
    expect(maxMinLevel([], 10)).toBe(Infinity);
  });
});

describe('AddressTurns', () => {
  it('bars the address above its fair share of a long turn, cuts off all its streams, and leaves the other alone', () => {
    const s = share();
    const [a1, a2, b1] = [new Stream(), new Stream(), new Stream()];
    const a = s.open('a', a1);
    s.open('a', a2);
    const b = s.open('b', b1);
    expect(s.charge(b, 5, 1)).toBe('served');
    expect(s.charge(a, 1, 1)).toBe('served');
    spin(5);
    expect(s.charge(a, 5_000, 1)).toBe('barred');
    expect(a1.cutOff).toMatch(/more than its share of the front door/);
    expect(a2.cutOff).not.toBeNull();
    expect(b1.cutOff).toBeNull();
    expect(s.barredFor('a')).toBeGreaterThan(0);
    expect(s.barredFor('a')).toBeLessThanOrEqual(50);
    expect(s.barredFor('b')).toBe(0);
    expect(s.stats).toMatchObject({ overloadedTurns: 1, addressesBarred: 1 });
  });

  it('never bars an address under 256 units, nor the only address of a turn (whose frames past 64 units are shed)', () => {
    const s = share();
    const a = s.open('a', new Stream());
    const b = s.open('b', new Stream());
    s.charge(b, 1, 1);
    s.charge(a, 1, 1);
    spin(5);
    // Above the fair level of the judged turn, so shed, but not barred.
    expect(s.charge(a, 254, 1)).toBe('shed');
    const alone = s.open('alone', new Stream());
    s.charge(alone, 1, 2);
    spin(5);
    expect(s.charge(alone, 50_000, 2)).toBe('shed');
    expect(s.stats.overloadedTurns).toBe(2);
    expect(s.stats.addressesBarred).toBe(0);
  });

  it('sheds the frames of an address above the fair level for the rest of a judged turn only, and never those of one below it', () => {
    const s = share();
    const a = s.open('a', new Stream());
    const b = s.open('b', new Stream());
    expect(s.charge(b, 3, 1)).toBe('served');
    expect(s.charge(a, 1, 1)).toBe('served');
    // Under the budget the turn is not judged, however many frames: nothing is shed.
    expect(s.charge(a, 200, 1)).toBe('served');
    spin(5);
    // 256 units in: judged; at this pace the budget held ~100 units, so the level is ~97 and a (253) is above it.
    expect(s.charge(a, 52, 1)).toBe('shed');
    expect(s.charge(a, 1, 1)).toBe('shed');
    expect(s.charge(b, 1, 1)).toBe('served');
    expect(s.stats.addressesBarred).toBe(0);
    // The next turn starts afresh.
    expect(s.charge(b, 1, 2)).toBe('served');
    expect(s.charge(a, 1, 2)).toBe('served');
  });

  it('never sheds an address under 64 units, even above a level the wall clock made small', () => {
    const s = share();
    const a = s.open('a', new Stream());
    const paced = s.open('paced', new Stream());
    expect(s.charge(paced, 60, 1)).toBe('served');
    expect(s.charge(a, 195, 1)).toBe('served');
    // A 20 ms turn: the 2 ms budget held ~26 units at this pace, so the level is ~13, far under both.
    spin(20);
    expect(s.charge(a, 1, 1)).toBe('shed');
    expect(s.charge(paced, 4, 1)).toBe('served');
    expect(s.charge(paced, 1, 1)).toBe('shed');
  });

  it('sheds the only address of a long turn past 64 units while another address has a stream open, and never when nobody else is connected', () => {
    const s = share();
    const aloneStream = new Stream();
    const alone = s.open('alone', aloneStream);
    s.charge(alone, 1, 1);
    spin(5);
    expect(s.charge(alone, 50_000, 1)).toBe('served');
    const other = new Stream();
    const idle = s.open('idle', other);
    s.charge(alone, 1, 2);
    spin(5);
    expect(s.charge(alone, 300, 2)).toBe('shed');
    // The other address's stream closed: nobody else is waiting, so nothing is shed.
    s.close(idle, other);
    s.charge(alone, 1, 3);
    spin(5);
    expect(s.charge(alone, 300, 3)).toBe('served');
    expect(s.stats.addressesBarred).toBe(0);
    expect(aloneStream.cutOff).toBeNull();
  });

  it('once a turn is judged, lets an address that comes later in it have 64 units and sheds the rest', () => {
    const s = share();
    const a = s.open('a', new Stream());
    const b = s.open('b', new Stream());
    const late = s.open('late', new Stream());
    expect(s.charge(b, 1, 1)).toBe('served');
    expect(s.charge(a, 100, 1)).toBe('served');
    spin(5);
    // 256 units in: judged, with a and b only.
    expect(s.charge(a, 155, 1)).toBe('shed');
    // The budget is spent: however small the turn's level from a and b, the late address gets the floor and no more.
    for (let i = 0; i < 64; i++) expect(s.charge(late, 1, 1)).toBe('served');
    expect(s.charge(late, 1, 1)).toBe('shed');
    expect(s.stats.addressesBarred).toBe(0);
  });

  it("cuts a barred address's streams a slice per turn, and at once any that sends meanwhile", async () => {
    const s = share();
    const streams = Array.from({ length: 200 }, () => new Stream());
    const a = streams.map((stream) => s.open('a', stream))[0]!;
    const b = s.open('b', new Stream());
    s.charge(b, 1, 1);
    s.charge(a, 1, 1);
    spin(5);
    expect(s.charge(a, 5_000, 1)).toBe('barred');
    const cut = (): number => streams.filter((stream) => stream.cutOff !== null).length;
    expect(cut()).toBe(64);
    // The last stream sends a frame: its address is barred, so the caller cuts it.
    expect(s.charge(a, 1, 2)).toBe('barred');
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    await turn();
    expect(cut()).toBeGreaterThan(64);
    expect(cut()).toBeLessThanOrEqual(128);
    for (let i = 0; i < 4; i++) await turn();
    expect(cut()).toBe(200);
  });

  it('charges HTTP requests by their time, and bars an address whose requests take more than its share', () => {
    const s = share();
    const paced = s.open('paced', new Stream());
    s.charge(paced, 1, s.loopTurns.now());
    spin(5);
    // 2 ms of handler time is 1,000 units: above the fair share of this 5 ms turn, and above 256.
    expect(s.chargeRequest('listing', 2_000)).toBe(false);
    expect(s.barredFor('listing')).toBeGreaterThan(0);
    expect(s.refusal('listing')).toMatch(/took more than its share/);
    expect(s.barredFor('paced')).toBe(0);
  });

  it('doubles the bar of an address barred again soon after, up to maxBarMs', () => {
    const s = share(20, 50);
    const bars: number[] = [];
    for (let turn = 1; turn <= 3; turn++) {
      const a = s.open('a', new Stream());
      const b = s.open('b', new Stream());
      s.charge(b, 1, turn);
      s.charge(a, 1, turn);
      spin(5);
      s.charge(a, 5_000, turn);
      bars.push(s.barredFor('a'));
      spin(s.barredFor('a') + 1);
    }
    expect(bars[0]).toBeLessThanOrEqual(20);
    expect(bars[1]).toBeGreaterThan(20);
    expect(bars[1]).toBeLessThanOrEqual(40);
    expect(bars[2]).toBeGreaterThan(40);
    expect(bars[2]).toBeLessThanOrEqual(50);
  });
});

describe('after a bar', () => {
  it('refuses every new connection while barred, then lets in only a few a second until the address is forgiven', () => {
    const s = share(20, 20);
    const a = s.open('a', new Stream());
    const b = s.open('b', new Stream());
    s.charge(b, 1, 1);
    s.charge(a, 1, 1);
    spin(5);
    s.charge(a, 5_000, 1);
    expect(s.refusal('a')).toMatch(/the address a took more than its share .* barred for 1 s more/);
    expect(s.refusal('b')).toBeNull();
    spin(s.barredFor('a') + 1);
    const answers = Array.from({ length: 30 }, () => s.refusal('a'));
    const admitted = answers.filter((r) => r === null).length;
    expect(admitted).toBeGreaterThanOrEqual(10);
    expect(admitted).toBeLessThanOrEqual(11);
    expect(answers.find((r) => r !== null)).toMatch(/may open only 10 connections a second/);
  });

  it('shares IPv6 clients by /64 and keeps IPv4, mapped or not, whole', () => {
    const s = share();
    const host = '2001:0db8:0001:0002:0000:0000:0000:0001';
    const neighbour = '2001:0db8:0001:0002:ffff:0000:0000:0009';
    const a = s.open(host, new Stream());
    const b = s.open('0000:0000:0000:0000:0000:ffff:7f00:0001', new Stream());
    s.charge(b, 1, 1);
    s.charge(a, 1, 1);
    spin(5);
    s.charge(a, 5_000, 1);
    expect(s.barredFor(neighbour)).toBeGreaterThan(0);
    expect(s.barredFor('2001:0db8:0001:0003:0000:0000:0000:0001')).toBe(0);
    expect(s.barredFor('0000:0000:0000:0000:0000:ffff:7f00:0002')).toBe(0);
  });
});
