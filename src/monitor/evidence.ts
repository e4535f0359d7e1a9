// The monitor's events and their evidence (docs/protocol.md §13.7). Evidence
// is self-contained: both signed heads, the key, and the proof the gateway
// served between them, so anyone can check it without the monitor.
import type { ConsistencyProofView, SignedHead } from '../protocol/index.js';

/**
 * fork: two heads signed by the gateway's key that cannot both be prefixes of
 * one log (same size and different roots, or a consistency proof that fails);
 * rollback: a signed head smaller than one accepted before, of the same log;
 * bad-signature: a head that does not verify under the pinned key;
 * stale: a head whose time is older than --max-age;
 * unproven: the gateway did not give a consistency proof between two heads it signed.
 */
export const EVIDENCE_EVENTS = ['fork', 'rollback', 'bad-signature', 'stale', 'unproven'] as const;
export type EvidenceEvent = (typeof EVIDENCE_EVENTS)[number];

/** Every event the monitor counts: the evidence events, and a gateway it could not ask. */
export type MonitorEvent = EvidenceEvent | 'unreachable';

export interface Evidence {
  /** The format of this document. */
  format: 'chainlanes-monitor-evidence/1';
  event: EvidenceEvent;
  gateway: string;
  /** ISO 8601, the monitor's clock. */
  detectedAt: string;
  reason: string;
  /** The gateway's public key the monitor pinned (hex), and its fingerprint. */
  key: string;
  fingerprint: string;
  /** The last head the monitor accepted from this gateway (null before the first). */
  accepted: SignedHead | null;
  /** The head that caused the event, as the gateway served it. */
  received: unknown;
  /** The consistency proof the gateway served between them, when one was asked for. */
  proof: ConsistencyProofView | null;
  /** bad-signature: the key the gateway presents now, when it differs from the pinned one. */
  presentedKey?: string;
}
