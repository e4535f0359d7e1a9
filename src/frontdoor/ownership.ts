// Admission in a fleet (docs/fleet.md "Admission"): which chains this gateway
// may admit is decided by etcd, and read per frame from a local table the
// fleet's watch keeps current — no etcd call on this path. The front door
// sees only this interface; src/fleet implements it (FleetGate, ClaimBatcher)
// and the gateway wires the two (src/wiring/fleet.ts). A gateway without a
// fleet has none, and admission is what it always was.
import type { ErrorCode } from '../protocol/index.js';

/** What the fleet says of a chain, now. */
export type ChainVerdict =
  /** Owned here, the lease live by this gateway's clock: admit. */
  | { kind: 'admit' }
  /** No one owns it yet: its first frame that passes every other check claims it. */
  | { kind: 'unclaimed' }
  /** Another gateway owns it (or is taking it over): `moved` with its URL, or `busy` naming it when it is not a live member (`location` null). */
  | { kind: 'moved'; location: string | null; message: string }
  /** This gateway cannot admit now (cut off from etcd, catching up after a rejoin): `busy`. */
  | { kind: 'busy'; message: string };

/** How a claim ended: won (admit), lost to another gateway (`moved`), or not made (`busy`, the cause). */
export type ClaimResult = { won: true } | { won: false; location: string | null; message: string } | { won: null; message: string };

export interface ChainOwnership {
  /** The per-frame question: a clock read and a Map lookup, no etcd call. */
  check(name: string, now: number): ChainVerdict;
  /**
   * The question for reads: only whether another gateway owns the chain (a
   * chain being handed off is read here until the move commits; a gateway
   * cut off from etcd keeps serving reads). Null: serve it here.
   */
  servedElsewhere(name: string): Extract<ChainVerdict, { kind: 'moved' }> | null;
  /** Claims a new chain for this gateway (batched with others in one etcd transaction). */
  claim(name: string): Promise<ClaimResult>;
}

/** WebSocket close code and reason for a stream whose chain another gateway serves now: the client reconnects (through the proxy). */
export const MOVED_CLOSE = 4001;
export const MOVED_REASON = 'moved: reconnect';

/** The code a `moved` verdict is answered with: `moved` with the owner's URL, `busy` while the owner is not a live member. */
export function movedCode(verdict: { location: string | null }): ErrorCode {
  return verdict.location === null ? 'busy' : 'moved';
}
