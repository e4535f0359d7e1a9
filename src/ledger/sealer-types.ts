// Messages and shared memory between the front door and the sealer thread.

/** One entry block the front door cut: the chain's seqs [firstSeq, endSeq). */
export interface CutBlock {
  slot: number;
  chainName: string;
  firstSeq: number;
  endSeq: number;
}

/** Everything cut in one block interval; it becomes one directory block. */
export interface Cut {
  sealedAt: number;
  blocks: CutBlock[];
}

export interface SealedBlock {
  slot: number;
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  root: Uint8Array;
  hash: Uint8Array;
}

export type SealerEvent =
  | { type: 'ready' }
  | { type: 'sealed'; directory: { height: number; hash: Uint8Array; root: Uint8Array; count: number; sealedAt: number }; blocks: SealedBlock[] }
  | { type: 'seal-failed'; message: string; attempt: number; retryInMs: number }
  | { type: 'stopped' };

export type SealerCommand =
  | { type: 'cut'; cut: Cut }
  /** A chain's slot and its first seq not yet durable; sent once per chain, before its first frame. */
  | { type: 'chain'; slot: number; nextSeq: number }
  | { type: 'stop' };

export interface SealerWorkerData {
  rings: SharedArrayBuffer[];
  control: SharedArrayBuffer;
  dataDir: string;
  anchorFile: string | null;
  cores: number[];
  nice: number;
  /** KiB each chain holds that is not durable yet, by slot (the sealer writes, admission reads). */
  chainBacklog: SharedArrayBuffer;
  /** Tests only: fail `attempts` seal transactions once `after` seals succeeded. */
  sealFaults: { after: number; attempts: number };
}

// Sealer control block (Int32Array), one 128-byte line each.
export const DOORBELL = 0;
/** KiB of entries the sealer holds that are not yet durable. */
export const PENDING_KIB = 32;
export const CONTROL_INTS = 64;
