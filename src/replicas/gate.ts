// The commit hop's gate with replicas on (docs/replicas.md part 4): each
// `sealed` event is held, in directory order, until the standby says
// `durable n`; then every held event ≤ n is released to the notices. So
// `committed` (and `wait=committed`, and the dashboard's commit latency) move
// only at the acknowledgement. The standby is **lost** when no
// acknowledgement came for `lostAfterMs` while seals were held, or no
// standby was named for that long; then, by `whenStandbyLost`:
// - `wait`: held events stay held, admission answers `busy` naming the
//   standby and the setting;
// - `alone`: once `goAlone` resolved (the owner records in etcd that it goes
//   on alone, before any notice leaves unreplicated), every held event and
//   every later one is released at once with `alone: true`, until the
//   standby acknowledges everything released alone (then `inStep`).
// Whatever the choice, held bytes past `maxUnreplicatedBytes` make admission
// answer `busy`: they bound what a returning owner may have to truncate and
// the notices this gateway holds. The gate holds the events' numbers, never
// seal records. State is here only; the clock is read by the caller (tests
// drive it).
import type { WhenStandbyLost } from '../fleet/index.js';

export type ReplicaState =
  /** Every seal acknowledged (or the last ones on their way, within lostAfterMs). */
  | 'in-step'
  /** Seals held longer than a moment, the standby still within lostAfterMs. */
  | 'behind'
  /** No acknowledgement (or no standby) for lostAfterMs. */
  | 'lost'
  /** Lost, and `alone` chosen: notices go out with `alone: true`. */
  | 'alone';

export interface ReplicaGateOptions<E> {
  whenStandbyLost: WhenStandbyLost;
  lostAfterMs: number;
  maxUnreplicatedBytes: number;
  /** The event goes on to its `committed` notices; `alone`: sent without the standby's copy. */
  release(event: E, alone: boolean): void;
  /** Going alone from seal `from` on: resolves once recorded (etcd), rejects to stay held (tried again at the next check). */
  goAlone?(from: number): Promise<void>;
  /** The standby holds everything released alone: the alone record can go. */
  inStep?(): void;
}

interface Held<E> {
  height: number;
  bytes: number;
  event: E;
}

export interface ReplicaView {
  standby: string | null;
  state: ReplicaState;
  /** When the state began (the caller's clock: performance.now() ms; /healthz shows ms since the epoch), null while in step. */
  since: number | null;
  /** Seals made here and not acknowledged by the standby. */
  behind: number;
  /** Bytes of the held seals. */
  heldBytes: number;
  /** The highest seal the standby acknowledged; -1 for none. */
  acked: number;
}

export class ReplicaGate<E> {
  private readonly held: Held<E>[] = [];
  private heldBytes = 0;
  private acked = -1;
  private sealed = -1;
  private standbyId: string | null = null;
  /** When the last acknowledgement came, or the standby was named, or holding began: the lost clock runs from the latest. */
  private progressAt: number;
  /** Going alone: the etcd record is being written (null: not asked) / written (alone from `aloneFrom`). */
  private aloneAsked = false;
  private aloneFrom: number | null = null;
  /** The highest seal released alone; the standby is back in step when it acknowledges it. */
  private aloneUpTo = -1;
  /**
   * Heights (after, to] a truncation removed that no acknowledgement passed
   * yet, in order: never shipped nor acknowledged one by one, so not counted
   * as `behind` (the standby's next word above them passes them). One per
   * truncation at most, and gone at that word.
   */
  private readonly gone: { after: number; to: number }[] = [];
  private stateSince: number | null = null;
  private lastState: ReplicaState = 'in-step';

  constructor(
    private readonly options: ReplicaGateOptions<E>,
    now: number,
  ) {
    this.progressAt = now;
  }

  /** The standby named now (null: none). A change restarts the lost clock: the new standby gets lostAfterMs to say hello. */
  standby(id: string | null, now: number): void {
    if (id === this.standbyId) return;
    this.standbyId = id;
    this.progressAt = now;
  }

  /** A `sealed` event of seal `height` (in directory order) with its bytes: held, or released at once when alone. */
  hold(height: number, bytes: number, event: E, now: number): void {
    if (height <= this.sealed) throw new RangeError(`seal ${height} held after seal ${this.sealed}: the gate takes seals in directory order`);
    this.sealed = height;
    if (height <= this.acked) return this.options.release(event, false); // the standby had it already (a hello after a restart)
    if (this.aloneFrom !== null) {
      this.aloneUpTo = height;
      return this.options.release(event, true);
    }
    if (this.held.length === 0) this.progressAt = Math.max(this.progressAt, now);
    this.held.push({ height, bytes, event });
    this.heldBytes += bytes;
  }

  /** The standby made seals ≤ `height` durable: everything held up to it goes out. */
  durable(height: number, now: number): void {
    if (height <= this.acked) return;
    this.acked = height;
    while (this.gone.length > 0 && this.gone[0]!.to <= height) this.gone.shift();
    this.progressAt = now;
    let released = 0;
    while (released < this.held.length && this.held[released]!.height <= height) released++;
    const out = this.held.splice(0, released);
    for (const h of out) {
      this.heldBytes -= h.bytes;
      this.options.release(h.event, false);
    }
    if (this.aloneFrom !== null && height >= this.aloneUpTo && this.held.length === 0) {
      this.aloneFrom = null;
      this.aloneAsked = false;
      this.options.inStep?.();
    }
  }

  /**
   * A returning owner truncated its seals above `after` (follower.ts): the
   * held ones among them are dropped, never released (nothing of them was
   * reported committed, and nothing of them is in the store any more).
   */
  truncated(after: number): number {
    const kept = this.held.filter((h) => h.height <= after);
    const dropped = this.held.length - kept.length;
    this.held.splice(0, this.held.length, ...kept);
    this.heldBytes = kept.reduce((bytes, h) => bytes + h.bytes, 0);
    const from = Math.max(after, this.acked);
    if (this.sealed > from) {
      const last = this.gone.at(-1);
      if (last !== undefined && last.to >= from) last.to = this.sealed;
      else this.gone.push({ after: from, to: this.sealed });
    }
    return dropped;
  }

  /** Evaluates the lost clock (called on a timer, and by admission and views): going alone happens here. */
  check(now: number): ReplicaState {
    const state = this.stateAt(now);
    if (state !== this.lastState) {
      this.lastState = state;
      this.stateSince = state === 'in-step' ? null : now;
    }
    if (state === 'lost' && this.options.whenStandbyLost === 'alone' && !this.aloneAsked) this.startAlone();
    return state;
  }

  /** Why admission must answer `busy` now (null: admit). */
  busy(now: number): string | null {
    if (this.heldBytes > this.options.maxUnreplicatedBytes)
      return `${this.heldBytes} bytes sealed here are not yet on the standby${this.standbyId === null ? '' : ` "${this.standbyId}"`} (fleet.maxUnreplicatedBytes: ${this.options.maxUnreplicatedBytes}); retry when it catches up`;
    if (this.check(now) !== 'lost' || this.options.whenStandbyLost !== 'wait') return null;
    const lostFor = ((now - this.progressAt) / 1000).toFixed(1);
    const who = this.standbyId === null ? 'no standby is named for this gateway' : `standby "${this.standbyId}" lost`;
    return `${who} ${lostFor} s ago (fleet.whenStandbyLost: wait): committed notices wait for it; retry later`;
  }

  view(now: number): ReplicaView {
    const state = this.check(now);
    return {
      standby: this.standbyId,
      state,
      since: this.stateSince,
      behind: this.behind(),
      heldBytes: this.heldBytes,
      acked: this.acked,
    };
  }

  /** Seals made here, not acknowledged, and not removed by a truncation. */
  private behind(): number {
    let behind = Math.max(0, this.sealed - this.acked);
    for (const { after, to } of this.gone) behind -= to - Math.max(after, this.acked);
    return behind;
  }

  private stateAt(now: number): ReplicaState {
    if (this.aloneFrom !== null) return 'alone';
    const waiting = this.held.length > 0 || this.standbyId === null;
    if (!waiting) return 'in-step';
    return now - this.progressAt >= this.options.lostAfterMs ? 'lost' : this.held.length > 0 ? 'behind' : 'in-step';
  }

  private startAlone(): void {
    this.aloneAsked = true;
    const from = this.acked + 1;
    const record = this.options.goAlone?.(from) ?? Promise.resolve();
    record.then(
      () => {
        if (!this.aloneAsked) return; // back in step meanwhile
        this.aloneFrom = from;
        const out = this.held.splice(0);
        this.heldBytes = 0;
        for (const h of out) {
          this.aloneUpTo = h.height;
          this.options.release(h.event, true);
        }
        this.aloneUpTo = Math.max(this.aloneUpTo, this.sealed);
      },
      () => {
        this.aloneAsked = false; // asked again at the next check
      },
    );
  }
}
