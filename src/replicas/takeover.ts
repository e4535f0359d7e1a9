// Failover (docs/replicas.md part 5): when an owner this gateway stands by
// for is gone from `members/` (its lease expired in etcd), this gateway takes
// its chains over:
//   1. the owner's stream is ended and refused from now on, and the last seal
//      it sent is stored (or refused) — nothing more of the owner is stored;
//   2. each of its chains goes on in the front door from the replicated
//      blocks (ChainState.continueAt, the sealer's backlog, the frame-id
//      window rebuilt from the replicated `ledger.frameIds`) — before etcd
//      names this gateway, so no frame is admitted for it at a wrong seq;
//   3. the chains move here in etcd by their fencing tokens, under the outer
//      condition (fleet/takeover.ts), with `takeover/{g}` written;
//   4. won chains get their credit books from the last ones the owner
//      shipped (authenticated mode), then are admitted at once (the
//      ownership mirror told locally), and `standby/{g}` is released so the
//      naming can use this gateway again.
// A refused takeover (the owner is back, it went on alone, this gateway's
// lease is gone) is logged and tried again at the next change of `members/`
// or `standby/`; a failure (etcd, a chain that cannot go on) after a second.
import type { Logger } from '../log/index.js';
import type { Revision, TakeoverOutcome, TakeoverRequest } from '../fleet/index.js';

export interface TakeoverParts {
  me: string;
  /** Owners this gateway stands by for, with the create revision of `standby/{owner}`. */
  standingBy(): { owner: string; revision: Revision }[];
  isMember(owner: string): boolean;
  /** The chains etcd gives to `owner`, with their tokens. */
  chainsOf(owner: string): { name: string; token: Revision }[];
  /** Ends the owner's stream; resolves once its last seal is stored or refused. */
  endStream(owner: string): Promise<void>;
  /** The highest seal of `owner` held here. */
  acked(owner: string): number;
  /** Makes the front door's chain go on from the blocks held here; why not, or null. */
  prepare(chain: string): string | null;
  transfer(request: Omit<TakeoverRequest, 'me' | 'batch'>): Promise<TakeoverOutcome>;
  /** The credits of the chains won go on from the books `owner` shipped with its seals (a chain without one is logged). */
  openBooks(owner: string, chains: string[]): Promise<void>;
  /** The ownership mirror told of a chain won (admission admits it without waiting for the watch). */
  won(chain: string, token: Revision): void;
  release(owner: string, revision: Revision): Promise<void>;
  log: Logger;
}

const RETRY_MS = 1_000;

export class Takeovers {
  /** Owners whose takeover is under way or over (by their standby claim's revision), and those this gateway must no longer take seals of. */
  private readonly claims = new Set<string>();
  private readonly taking = new Set<string>();
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly parts: TakeoverParts) {}

  /** True while (and after) this gateway takes `owner`'s chains: its seals are refused. */
  isTaking(owner: string): boolean {
    return this.taking.has(owner);
  }

  /** Looks for owners gone; call on every change of `members/` and `standby/`. */
  check(): void {
    for (const { owner, revision } of this.parts.standingBy()) {
      const claim = `${owner}@${revision}`;
      if (this.parts.isMember(owner) || this.claims.has(claim)) continue;
      this.claims.add(claim);
      this.run(owner, revision).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.parts.log.error({ event: 'replica-takeover-failed', owner, error: message }, `taking over the chains of "${owner}" failed: ${message}; retrying`);
        this.claims.delete(claim);
        this.retryLater();
      });
    }
  }

  stop(): void {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
  }

  private async run(owner: string, revision: Revision): Promise<void> {
    const { parts } = this;
    const started = performance.now();
    this.taking.add(owner);
    await parts.endStream(owner);
    const acked = parts.acked(owner);
    const chains = parts.chainsOf(owner);
    for (const { name } of chains) {
      const refusal = parts.prepare(name);
      if (refusal !== null) throw new Error(`chain "${name}" cannot go on here: ${refusal}`);
    }
    const outcome = await parts.transfer({ owner, standbyRevision: revision, chains, acked });
    if (!outcome.taken) {
      // Nothing moved; the next change of members/ or standby/ looks again (an owner seen gone by a mirror not yet
      // in step, or back in time, must not be given up on for good). The chains prepared here stay unowned here.
      this.taking.delete(owner);
      this.claims.delete(`${owner}@${revision}`);
      parts.log.warn({ event: 'replica-takeover-refused', owner, why: outcome.why }, `not taking over the chains of "${owner}": ${outcome.why}`);
      return;
    }
    await parts.openBooks(
      owner,
      outcome.won.map((w) => w.name),
    );
    for (const { name, token } of outcome.won) parts.won(name, token);
    await parts.release(owner, revision);
    const ms = Math.round(performance.now() - started);
    parts.log.warn(
      { event: 'replica-takeover', owner, acked, chains: outcome.won.length, lost: outcome.lost, ms },
      `took over ${outcome.won.length} chains of "${owner}" (its seals up to ${acked}) in ${ms} ms` +
        (outcome.lost.length === 0 ? '' : `; ${outcome.lost.length} had moved elsewhere (${outcome.lost.map((l) => `"${l.name}": ${l.why}`).join(', ')})`),
    );
  }

  private retryLater(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.check();
    }, RETRY_MS);
    this.retry.unref();
  }
}
