// Each client address's share of the front door's time (docs/architecture.md,
// "The front door's time, shared by address").
//
// uWS hands a socket's buffered frames to JavaScript all in the event-loop
// turn they arrive, and its WebSocket cannot be paused: a thousand connections
// that each stay under their own `maxFramesInFlight` can still make one turn
// last seconds, and every other client waits for that turn. A connection's own
// counts cannot tell an attacker from a victim (a paced client whose frames
// piled up during a long turn also arrives as a burst), but addresses can: the
// attack has to come from somewhere.
//
// So the front door charges every frame to its client's address, per turn. A
// turn that runs past `turnBudgetMs` is an overloaded one: the addresses that
// used more than their max-min fair share of it are barred for a while. All
// their streams are cut off at once, and their new connections
// are refused `busy` at once (guard.ts) until the bar expires. A bar doubles
// for an address that is barred again soon after, up to `maxBarMs`. After a
// bar the address is on probation until it is forgiven (FORGIVE_AFTER_MS): it
// may open PROBATION_OPENS_PER_S connections a second, so an attack cannot
// come back with all its connections in one storm the moment its bar ends.
// IPv6 clients are grouped by /64, the block one host usually holds.
//
// An address is barred only for a turn in which another address's work
// waited: a benchmark or a test driving the gateway from one address is never
// barred, and an attack from one address is judged as soon as anyone else's
// frame shares a turn with it. Shedding (below) does not wait for a second
// address in the turn, only for one with a stream open: a lone client's burst
// holds up everyone whose frames arrive while it lasts, and they are read only
// in the next turn (traced: turns of 4,000–5,000 frames from one attack
// address, 16–18 ms of CPU); with nobody else connected it holds up no one.
//
// The cost of a frame, in units: one for the callback and reply, plus one per
// 16 KiB copied, so a few large frames weigh what they cost too. Opening a
// stream (the upgrade's headers, the key check, the open) is charged as
// OPEN_UNITS, so a storm of reconnections counts as well. An HTTP request is
// charged the time its handler took, a unit per REQUEST_US_PER_UNIT: a page
// of a listing costs what hundreds of frames do, and an address pipelining
// them is judged like one flooding frames.
//
// A bar cuts the address's streams a slice per turn (CUT_PER_TURN): cutting
// hundreds at once was itself a turn of tens of milliseconds. A stream of a
// barred address that sends a frame meanwhile is cut there and then.
//
// A bar needs MIN_BARRED_UNITS, and an attack spread over many addresses
// stays under it: in the hostile bench, eight addresses sending tiny frames
// were served in full after the judgment, and a turn of 2,560 of them took
// 12.5 ms of JavaScript (bench/history/2026-12-07.md, traced).
// So once a turn has run past its budget, every further frame of it from an
// address past MIN_SHED_UNITS in the turn is shed: answered `busy` before any
// parsing (the cost of a reply, not of admitting, hashing and answering the
// frame), with nothing kept past the turn. Not the fair level: the turn is
// past its budget, so there is none left to share, and the level, worked out
// from the addresses seen so far, let each address that came later in the
// turn have hundreds of frames served (traced: a 4,096-frame turn with 20
// shed). The level decides bars, which outlast the turn; a paced client,
// under MIN_SHED_UNITS, is never shed.

import type { Logger } from '../log/index.js';
import { addressGroup, readableAddress } from '../uws/index.js';
import { TURN_COUNTS, type TurnMeter } from './turn-meter.js';

/** Bytes of a frame that cost one more unit. */
const BYTES_PER_UNIT = 16 * 1024;
/** What opening a stream is charged, in frame units: an estimate (an upgrade runs a few header reads and callbacks). */
export const OPEN_UNITS = 16;
/** The turn's clock is read once per this many units: a clock read per frame would cost more than the frames. */
const CHECK_EVERY_UNITS = 256;
/**
 * Once a turn is overloaded, it is judged again this many units later, or one
 * unit per address of the turn if more (judging sorts them): an address shed
 * meanwhile is barred at the next judgment, and a barred stream's frames cost
 * far less than shed ones (dropped unanswered, its stream cut).
 */
const JUDGE_EVERY_UNITS = 128;
/**
 * An address below this many units in a turn is never barred: a paced client
 * whose frames piled up while a turn ran long arrives as a burst, and this
 * many is far more than piles up in the few milliseconds turns last once the
 * share is at work (the hostile bench's flood bystander has 32 frames in
 * flight; its light one 1). 1,024 (one connection's maxFramesInFlight) let
 * eight addresses of an attack each stay under it in every turn.
 */
const MIN_BARRED_UNITS = 256;
/**
 * Once a turn has run past its budget, every address may go on to this many
 * units in it, and no further: the rest of its frames in the turn are shed. A client
 * waiting for its replies (the hostile bench's flood bystander has 32 frames
 * in flight over two connections) keeps its frames, while an attack's
 * addresses (hundreds of units each in a long turn) are shed.
 */
const MIN_SHED_UNITS = 64;
/** An HTTP request is charged one unit per this many µs its handler ran: about what a small frame costs the front door. */
export const REQUEST_US_PER_UNIT = 2;
/** Streams of barred addresses cut per turn. */
const CUT_PER_TURN = 64;
/** A barred address that stays clear this long starts again from the first bar. */
const FORGIVE_AFTER_MS = 60_000;
/** New connections and requests a second from an address on probation (barred less than FORGIVE_AFTER_MS ago). */
const PROBATION_OPENS_PER_S = 10;
/** Past this many addresses remembered, those without streams are forgotten at once, probation or not. */
const MAX_REMEMBERED = 65_536;
/** At most this many bars are logged one by one per window; the rest are counted in the next line. */
const LOG_LINES = 10;
const LOG_WINDOW_MS = 10_000;

export interface AddressTurnsSettings {
  /** A turn longer than this is overloaded. */
  turnBudgetMs: number;
  /** The first bar; each bar within FORGIVE_AFTER_MS of the last doubles it. */
  firstBarMs: number;
  maxBarMs: number;
}

/** A stream the share may cut off. */
export interface SharedStream {
  /** Reads nothing more from the stream and closes it once its owed replies are sent. */
  cutOffForTurns(reason: string): void;
}

/** Why a barred address's streams are closed (the WebSocket close reason, ≤ 123 bytes). */
export const BARRED_REASON = 'this address took more than its share of the front door; reconnect later';

/** One client address's use of the front door. Written only by AddressTurns. */
export class AddressUse {
  /** The address, or for IPv6 its /64 (addressGroup). */
  readonly address: string;
  /** Streams open from the address. */
  readonly streams = new Set<SharedStream>();
  /** The turn `units` counts. */
  turn = -1;
  units = 0;
  /** performance.now() until which the address is barred (0: not barred). */
  barredUntil = 0;
  /** The length of its last bar, doubled by the next one. */
  lastBarMs = 0;
  /** Opens it may still make on probation, refilled at PROBATION_OPENS_PER_S, and when they were last refilled. */
  probationOpens = 0;
  probationRefilledAt = 0;

  constructor(address: string) {
    this.address = address;
  }
}

/** Counts of what the share did, for metrics. */
export interface AddressTurnStats {
  overloadedTurns: number;
  addressesBarred: number;
  framesCutOff: number;
  /** Frames answered `busy` because their address was past MIN_SHED_UNITS in a turn past its budget. */
  framesShed: number;
  longestTurnMs: number;
}

/** What becomes of a frame the share was charged for: served, answered `busy` (shed), or its stream cut (barred). */
export type FrameCharge = 'served' | 'shed' | 'barred';

/** The `busy` message of a shed frame. */
export const SHED_REASON = `the front door's turn ran past limits.frontDoorTurnBudgetMs and this address sent more than ${MIN_SHED_UNITS} frames' worth in it; retry shortly`;

/**
 * Numbers the front door's event-loop turns: a number that stays the same
 * through a turn and changes between turns. uWS hands over all of a socket's
 * buffered frames in one turn, so a client that writes thousands of frames at
 * once is seen as one burst, and cut off after a bounded part of it.
 *
 * Where the turn meter runs (the native addon), its count of turns ended is
 * that number, read for free. Without it, one setImmediate per turn that asks
 * moves the count on (none when idle): on a gateway answering one frame at a
 * time that callback cost ~2,700 of the front door's ~37,000 instructions a
 * frame (callgrind).
 */
export class EventLoopTurns {
  private current = 0;
  private bumping = false;
  private readonly turnsEnded: (() => number) | null;

  constructor(turnsEnded: (() => number) | null = null) {
    this.turnsEnded = turnsEnded;
  }

  now(): number {
    if (this.turnsEnded !== null) return this.turnsEnded();
    if (!this.bumping) {
      this.bumping = true;
      setImmediate(() => {
        this.current++;
        this.bumping = false;
      });
    }
    return this.current;
  }
}

/** The turns of the loop `meter` measures: the meter's own count where it runs, else counted by EventLoopTurns. */
export function loopTurnsOf(meter: TurnMeter): EventLoopTurns {
  return new EventLoopTurns(meter.measuring ? () => meter.turnsEnded() : null);
}

export class AddressTurns {
  readonly stats: AddressTurnStats = { overloadedTurns: 0, addressesBarred: 0, framesCutOff: 0, framesShed: 0, longestTurnMs: 0 };
  /** The turns frames, opens and requests are charged in: one count for the stream route and the guard. */
  readonly loopTurns: EventLoopTurns;
  private readonly settings: AddressTurnsSettings;
  private readonly log: Logger;
  /** Streams of barred addresses still to cut, a slice per turn. */
  private toCut: SharedStream[] = [];
  private cutting = false;
  private logWindowStart = 0;
  private linesLogged = 0;
  private barsUnlogged = 0;
  /** Addresses with open streams or a bar not yet expired. */
  private readonly addresses = new Map<string, AddressUse>();
  private turn = -1;
  private turnStart = 0;
  private turnUnits = 0;
  private nextCheck = CHECK_EVERY_UNITS;
  /** The turn's clock as of its last check: bars are compared with it, not with a fresh clock read. */
  private turnNow = 0;
  private turnJudged = false;
  /** Infinity until the turn runs past its budget, then MIN_SHED_UNITS: frames from an address above it are shed until the turn ends. */
  private shedAbove = Infinity;
  /** Addresses that sent frames this turn. */
  private active: AddressUse[] = [];
  /** Addresses with a stream open. */
  private streamingAddresses = 0;

  /** Counts the streams a bar cuts off in the front door's turn (null: not counted). */
  private readonly turnCounts: Float64Array | null;

  constructor(settings: AddressTurnsSettings, log: Logger, meter: TurnMeter | null = null, loopTurns = new EventLoopTurns()) {
    this.settings = settings;
    this.log = log;
    this.turnCounts = meter?.counts ?? null;
    this.loopTurns = loopTurns;
  }

  /** `stream` from `address` opened: its address's use record, to charge its frames to. */
  open(address: string, stream: SharedStream): AddressUse {
    const use = this.useOf(address);
    if (use.streams.size === 0) this.streamingAddresses++;
    use.streams.add(stream);
    return use;
  }

  /**
   * An HTTP request from `address` kept the front door busy `us` microseconds:
   * charged to the address in this turn. False when the address is barred now
   * (the guard refuses its next requests).
   */
  chargeRequest(address: string, us: number): boolean {
    // Kept until the sweep forgets it: forgotten now, the next request of this turn would start a second record of the address.
    return this.charge(this.useOf(address), Math.max(1, Math.ceil(us / REQUEST_US_PER_UNIT)), this.loopTurns.now()) !== 'barred';
  }

  private useOf(address: string): AddressUse {
    const key = addressGroup(address);
    let use = this.addresses.get(key);
    if (use === undefined) {
      use = new AddressUse(key);
      this.addresses.set(key, use);
    }
    return use;
  }

  /** A stream opened by `open` closed. */
  close(use: AddressUse, stream: SharedStream): void {
    if (use.streams.delete(stream) && use.streams.size === 0) this.streamingAddresses--;
    this.forgetIfDone(use, performance.now());
  }

  /** Milliseconds `address` is still barred for, or 0. */
  barredFor(address: string): number {
    const use = this.addresses.get(addressGroup(address));
    return use === undefined ? 0 : Math.max(0, Math.ceil(use.barredUntil - performance.now()));
  }

  /**
   * Why a new connection or request from `address` is refused, or null: the
   * address is barred, or on probation and past its opens for this second.
   */
  refusal(address: string): string | null {
    const use = this.addresses.get(addressGroup(address));
    if (use === undefined || use.barredUntil === 0) return null;
    const now = performance.now();
    const left = use.barredUntil - now;
    const who = readableAddress(use.address);
    if (left > 0) {
      return (
        `the address ${who} took more than its share of the front door's time (limits.frontDoorTurnBudgetMs) and is barred ` +
        `for ${Math.ceil(left / 1000)} s more; retry after that, sending fewer frames at once`
      );
    }
    if (this.forgetIfDone(use, now)) return null;
    use.probationOpens = Math.min(PROBATION_OPENS_PER_S, use.probationOpens + ((now - use.probationRefilledAt) / 1000) * PROBATION_OPENS_PER_S);
    use.probationRefilledAt = now;
    if (use.probationOpens >= 1) {
      use.probationOpens--;
      return null;
    }
    return (
      `the address ${who} was barred for taking more than its share of the front door's time and may open only ` +
      `${PROBATION_OPENS_PER_S} connections a second until ${Math.ceil(FORGIVE_AFTER_MS / 1000)} s after its bar; retry shortly`
    );
  }

  /**
   * Charges `units` (a frame's: `frameUnits`) to an address in event-loop
   * turn `turn`: `barred` when the address is barred (the caller cuts the
   * stream off), `shed` when it is past MIN_SHED_UNITS in this turn, once past its budget
   * (the caller answers a frame `busy`; an open or a request goes on).
   */
  charge(use: AddressUse, units: number, turn: number): FrameCharge {
    if (turn !== this.turn) this.startTurn(turn);
    if (use.turn !== turn) {
      use.turn = turn;
      use.units = 0;
      this.active.push(use);
    }
    use.units += units;
    this.turnUnits += units;
    if (this.turnUnits >= this.nextCheck) this.check();
    if (use.barredUntil > this.turnNow) {
      this.stats.framesCutOff++;
      return 'barred';
    }
    return use.units > this.shedAbove ? 'shed' : 'served';
  }

  /** The caller answered a frame `busy` on a `shed` charge. */
  shed(): void {
    this.stats.framesShed++;
    if (this.turnCounts !== null) this.turnCounts[TURN_COUNTS.framesShed]!++;
  }

  /** Forgets addresses with no streams that are forgiven (called now and then). */
  sweep(): void {
    const now = performance.now();
    for (const use of this.addresses.values()) this.forgetIfDone(use, now);
  }

  /** Forgets `use` if it has no streams and nothing to remember (no bar, or one forgiven); whether it did. */
  private forgetIfDone(use: AddressUse, now: number): boolean {
    // Charged in this turn: a new record of the address would be a second one in the turn's list.
    if (use.streams.size > 0 || use.turn === this.turn) return false;
    const remembered = use.barredUntil !== 0 && now - use.barredUntil < FORGIVE_AFTER_MS;
    const crowded = this.addresses.size > MAX_REMEMBERED && use.barredUntil <= now;
    if (remembered && !crowded) return false;
    this.addresses.delete(use.address);
    return true;
  }

  private startTurn(turn: number): void {
    this.turn = turn;
    this.turnStart = performance.now();
    this.turnNow = this.turnStart;
    this.turnUnits = 0;
    this.nextCheck = CHECK_EVERY_UNITS;
    this.turnJudged = false;
    this.shedAbove = Infinity;
    this.active = [];
  }

  private check(): void {
    this.nextCheck += CHECK_EVERY_UNITS;
    this.turnNow = performance.now();
    const turnMs = this.turnNow - this.turnStart;
    if (turnMs > this.stats.longestTurnMs) this.stats.longestTurnMs = turnMs;
    if (turnMs <= this.settings.turnBudgetMs) return;
    if (!this.turnJudged) {
      this.turnJudged = true;
      this.stats.overloadedTurns++;
    }
    if (this.active.length < 2) {
      if (this.othersStreaming()) this.shedAbove = MIN_SHED_UNITS;
      return;
    }
    this.shedAbove = MIN_SHED_UNITS;
    if (this.turnCounts !== null) this.turnCounts[TURN_COUNTS.judged]!++;
    // What the budget would have held at this turn's pace, shared max-min fairly.
    const budgetUnits = this.turnUnits * (this.settings.turnBudgetMs / turnMs);
    const level = maxMinLevel(
      this.active.map((use) => use.units),
      budgetUnits,
    );
    const fairUnits = Math.max(MIN_BARRED_UNITS, level);
    for (const use of this.active) {
      if (use.units > fairUnits && use.barredUntil <= this.turnNow) this.bar(use, fairUnits, turnMs);
    }
    this.nextCheck = this.turnUnits + Math.max(JUDGE_EVERY_UNITS, this.active.length);
  }

  /**
   * Whether an address other than the turn's only one has a stream open: its
   * frames, arriving while the turn lasts, are read only in the next. With
   * nobody else connected, shedding a lone client's burst would spare no one.
   */
  private othersStreaming(): boolean {
    const lone = this.active[0];
    return this.streamingAddresses > (lone !== undefined && lone.streams.size > 0 ? 1 : 0);
  }

  private bar(use: AddressUse, fairUnits: number, turnMs: number): void {
    const { firstBarMs, maxBarMs } = this.settings;
    const recent = use.barredUntil !== 0 && this.turnNow - use.barredUntil < FORGIVE_AFTER_MS;
    const barMs = recent ? Math.min(maxBarMs, use.lastBarMs * 2) : firstBarMs;
    use.barredUntil = this.turnNow + barMs;
    use.lastBarMs = barMs;
    use.probationOpens = PROBATION_OPENS_PER_S;
    use.probationRefilledAt = use.barredUntil;
    this.stats.addressesBarred++;
    if (this.turnCounts !== null) this.turnCounts[TURN_COUNTS.bars]!++;
    this.logBar(use, Math.round(fairUnits), Math.round(turnMs), barMs);
    for (const stream of use.streams) this.toCut.push(stream);
    this.cutSlice();
  }

  /** Cuts up to CUT_PER_TURN streams of barred addresses, and the next slice in the next turn. */
  private cutSlice(): void {
    if (this.cutting) return;
    const slice = this.toCut.splice(0, CUT_PER_TURN);
    for (const stream of slice) stream.cutOffForTurns(BARRED_REASON);
    if (this.turnCounts !== null) this.turnCounts[TURN_COUNTS.streamsCut]! += slice.length;
    if (this.toCut.length === 0) return;
    this.cutting = true;
    // Set from a callback of this turn, an immediate runs at this turn's end; set from that one, at the next turn's.
    setImmediate(() =>
      setImmediate(() => {
        this.cutting = false;
        this.cutSlice();
      }),
    );
  }

  /** One line per bar, at most LOG_LINES per LOG_WINDOW_MS: an attack from many addresses must not flood the log. */
  private logBar(use: AddressUse, fairUnits: number, turnMs: number, barMs: number): void {
    if (this.turnNow - this.logWindowStart >= LOG_WINDOW_MS) {
      this.logWindowStart = this.turnNow;
      this.linesLogged = 0;
    }
    if (this.linesLogged >= LOG_LINES) {
      this.barsUnlogged++;
      return;
    }
    this.linesLogged++;
    const address = readableAddress(use.address);
    const unlogged = this.barsUnlogged;
    this.barsUnlogged = 0;
    this.log.warn(
      { event: 'address-barred', address, units: use.units, fairUnits, turnMs, turnUnits: this.turnUnits, barMs, unlogged },
      `barred ${address} for ${barMs} ms: it took ${use.units} units of work (frames, opens, requests) in a ${turnMs} ms turn of the front door ` +
        `(limits.frontDoorTurnBudgetMs ${this.settings.turnBudgetMs}), more than its fair share of ${fairUnits}` +
        (unlogged > 0 ? ` (and ${unlogged} bars not logged since the last line)` : ''),
    );
  }
}

/** What a frame of `bytes` costs the front door, in units. */
export function frameUnits(bytes: number): number {
  return 1 + Math.floor(bytes / BYTES_PER_UNIT);
}

/**
 * The max-min fair level: the largest L with Σ min(use, L) ≤ budget. Those
 * using less than L get all they used; the rest are held to L.
 */
export function maxMinLevel(uses: readonly number[], budget: number): number {
  const sorted = [...uses].sort((a, b) => a - b);
  let left = budget;
  for (let i = 0; i < sorted.length; i++) {
    const even = left / (sorted.length - i);
    const use = sorted[i] ?? 0;
    if (use > even) return even;
    left -= use;
  }
  return Infinity;
}
