// Messages between the front door and the sealer thread, and what the thread
// starts with. The memory they share is control.ts.
import type { ExportedBlock, ReplicaOwner, ShippedSeal, StoredFrameId, TruncationRequest, TruncationResult } from '../ledger/index.js';

/** One entry block the front door cut: the chain's seqs [firstSeq, endSeq). */
export interface CutBlock {
  slot: number;
  chainName: string;
  firstSeq: number;
  endSeq: number;
  /** What the block's writers paid for it, by account (authenticated mode); written in its seal transaction. */
  burns?: [account: string, amount: number][];
  /** The client frame ids of the frames whose first seq is in the block; written in its seal transaction (ledger.frameIds). */
  frameIds?: StoredFrameId[];
}

/** Everything cut in one block interval; it becomes one directory block. */
export interface Cut {
  sealedAt: number;
  blocks: CutBlock[];
}

/** Tests only (CHAINLANES_TEST_FAULTS): injected seal failures, and a hold on draining the rings. */
export interface SealFaults {
  after: number;
  attempts: number;
  drainEveryMs: number;
}

export const NO_SEAL_FAULTS: SealFaults = { after: 0, attempts: 0, drainEveryMs: 0 };

export interface SealedBlock {
  slot: number;
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  root: Uint8Array;
  hash: Uint8Array;
  /** The block record's stored bytes (what a standby is shipped of it). */
  recordBytes: number;
}

/** A head of the directory log the sealer signed, durable (docs/protocol.md §13). */
export interface SignedHeadEvent {
  size: number;
  time: number;
  root: Uint8Array;
  signature: Uint8Array;
}

export type SealerEvent =
  /** The store is open; `head` is the head signed at start (null with heads off). */
  | { type: 'ready'; head: SignedHeadEvent | null }
  /** `head`: the head signed in the seal's transaction (absent with heads off). */
  | {
      type: 'sealed';
      directory: { height: number; hash: Uint8Array; root: Uint8Array; count: number; sealedAt: number; head?: SignedHeadEvent };
      blocks: SealedBlock[];
    }
  /** The present head signed again at a later time: nothing was sealed for heads.refreshSeconds. */
  | { type: 'head'; head: SignedHeadEvent }
  | { type: 'seal-failed'; message: string; attempt: number; retryInMs: number }
  /** An anchor sink failed after a durable seal; the seal stands, the sink is retried with the next one. */
  | { type: 'anchor-failed'; sink: string; height: number; message: string }
  /** Something failed outside a seal (draining the rings, an unexpected rejection); the thread goes on. */
  | { type: 'sealer-error'; where: string; message: string }
  /** Raised on the front door's side when the thread dies of an uncaught error. */
  | { type: 'thread-failed'; message: string }
  /** Everything sent was sealed and the store closed; `error` if closing it failed. */
  | { type: 'stopped'; error?: string }
  /** The answer to an `adopt`: the chain's new head, or why its blocks were refused (nothing stored). */
  | { type: 'adopted'; id: number; head?: { nextHeight: number; nextSeq: number; lastBlockHash: Uint8Array }; error?: string }
  /**
   * The answer to a `replicate`: the height now replicated, with `refusal` when a seal after the first did not
   * check (those before it are stored); or why not (`refused`: the first seal did not check, and nothing is stored).
   */
  | { type: 'replicated'; id: number; acked?: number; refusal?: string; error?: string; refused?: boolean }
  /** The answer to a `truncate`: what was removed, or why not (`refused`: the request or the store's shape was refused, nothing removed). */
  | { type: 'truncated'; id: number; result?: TruncationResult; error?: string; refused?: boolean };

export type SealerCommand =
  | { type: 'cut'; cut: Cut }
  /** A chain's slot and its first seq not yet durable; sent once per chain, before its first frame. */
  | { type: 'chain'; slot: number; nextSeq: number }
  /** Blocks of a chain adopted from another gateway of a fleet, stored in order with the seals (Ledger.adopt). */
  | { type: 'adopt'; id: number; chain: string; blocks: ExportedBlock[] }
  /** Seals shipped by the gateway this one stands by for, in order: checked and stored as one batch, in order with the seals (Ledger.replicateSeals). */
  | { type: 'replicate'; id: number; owner: ReplicaOwner; seals: ShippedSeal[] }
  /**
   * The returning owner's truncation, in order with the seals (Ledger.truncateUnreplicated). `slots`: the
   * front door's slot of each chain it knows, so the thread's backlog of a truncated chain restarts at its new head.
   */
  | { type: 'truncate'; id: number; request: TruncationRequest; slots: [chain: string, slot: number][] }
  | { type: 'stop' };

export interface SealerWorkerData {
  rings: SharedArrayBuffer[];
  /** The doorbell and pending KiB (control.ts). */
  control: SharedArrayBuffer;
  dataDir: string;
  anchorFile: string | null;
  cores: number[];
  nice: number;
  /** Each chain's KiB not durable yet, by slot (control.ts). */
  chainBacklog: SharedArrayBuffer;
  /** Idle backlog segments kept for reuse, in bytes (backlog-segments.ts). */
  maxIdleBacklogBytes: number;
  /** Drop the store file's clean cached pages after each durable seal (ledger.dropSealedPageCache). */
  dropSealedPageCache: boolean;
  /** Tests only: fail `attempts` seal transactions once `after` seals succeeded; drain the rings at most once per `drainEveryMs` (0: no hold). */
  sealFaults: SealFaults;
  /** Signed heads (src/heads): the key's PKCS #8 DER and how often an unchanged head is signed again; null: heads off (no log kept either). */
  heads: SealerHeads | null;
}

export interface SealerHeads {
  privateKey: Uint8Array;
  refreshMs: number;
}
