// What the replica phase (replicas.ts) gives the later ones, and the two
// questions intake asks of it: a file of its own, so intake and the views hold
// the replica parts without importing the phase's code (which reaches the
// handoff and the views: an import cycle otherwise).
import type { ChainOwnership, CommitHold, CommitRelease, SealedEvent } from '../frontdoor/index.js';
import { SEAL_MESSAGE_FIXED_BYTES } from '../protocol/index.js';
import { MAX_SEALS_IN_FLIGHT, type ReplicaGate, type ReplicaView, type Shipper, type StandbyStreams } from '../replicas/index.js';

export interface ReplicaParts {
  gate: ReplicaGate<{ event: SealedEvent; release: CommitRelease }>;
  shipper: Shipper;
  streams: StandbyStreams;
  /** The commit hop's hold (frontdoor/commits.ts). */
  hold: CommitHold;
  /** Admission's question, per frame of an owned chain: why `busy` now, or null. */
  busy(now: number): string | null;
  /** `/healthz` `fleet.replica`. */
  health(): ReplicaHealth;
  /** The largest message an owner may send on a stream to this gateway. */
  maxMessageBytes: number;
}

export interface ReplicaHealth extends ReplicaView {
  /** The shipping stream's state and why. */
  stream: string;
  detail: string;
  /** Owners this gateway stands by for, and those with a stream open. */
  standingBy: string[];
  streaming: string[];
}

/**
 * The most the frames of one seal may weigh (admission cuts early past it): an
 * eighth of the stream's bound, so every seal message fits it, and the
 * MAX_SEALS_IN_FLIGHT seals the stream allows fill it — the standby checks and
 * stores one while the next travel. With whole intervals as seals (the bound
 * alone) a busy interval was one seal of ~100 MB that travelled, was checked
 * and fsynced before any of it was committed: committed p99 with a standby was
 * 2–3× that without; with an eighth, 0.5–0.7× (bench/RESULTS.md "Replicas"; the
 * owner keeps its sealed pages cached for it, wiring/threads.ts). A frame
 * larger than the eighth is a seal of its own; the config refuses a frame
 * limit that one frame alone could pass the bound with (config/schema.ts).
 */
export function maxCutBytes(replicas: ReplicaParts | null): number {
  return replicas === null ? Infinity : Math.floor(replicas.maxMessageBytes / MAX_SEALS_IN_FLIGHT) - SEAL_MESSAGE_FIXED_BYTES;
}

/**
 * Admission's ownership question with the replica gate beside it: a frame for
 * a chain this gateway owns is answered `busy` while the gate says so (the
 * standby lost with `wait`, or too many bytes not on the standby). Frames for
 * other gateways' chains are answered as before (`moved`).
 */
export function gatedOwnership(ownership: ChainOwnership | null, replicas: ReplicaParts | null): ChainOwnership | null {
  if (ownership === null || replicas === null) return ownership;
  return {
    ...ownership,
    check: (name, now) => {
      const verdict = ownership.check(name, now);
      if (verdict.kind !== 'admit') return verdict;
      const busy = replicas.busy(now);
      return busy === null ? verdict : { kind: 'busy', message: busy };
    },
  };
}
