// What crosses between the front door and the anchor thread: a handful of
// messages per window and per proof request, never anything per entry.
import type { AnchorWindowView } from '../protocol/index.js';
import type { CostView } from './costs.js';

/** anchors.ethereum of the config, as the thread needs it (the key itself, not its file). */
export interface AnchorSettings {
  rpcUrl: string;
  everyDirectories: number;
  everySeconds: number;
  confirmations: number;
  maxWindowDirectories: number;
  pollMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  rpcTimeoutMs: number;
  /** The EIP-155 chain id the node must be on, or null for whichever it is. */
  networkId: number | null;
  bumpAfterSeconds: number;
  bumpPercent: number;
  maxFeePerGasGwei: number;
  watchBlocks: number;
}

/** The window in flight as /healthz shows it (the oldest, when a reorganisation put several back in flight). */
export interface WindowStatus {
  first: number;
  last: number;
  state: AnchorWindowView['state'];
  tx: string;
  nonce: number;
  confirmations: number;
  /** Transactions signed for it, and how many of them were fee bumps. */
  attempts: number;
  bumps: number;
  /** The newest transaction's fee cap and tip. */
  maxFeePerGasGwei: number;
  maxPriorityFeePerGasGwei: number;
  /** A bump is due but the fee cap is at anchors.ethereum.maxFeePerGasGwei: the window waits for fees to fall. */
  atFeeCap: boolean;
  /** Why the node refused the newest transaction, if it did (priced below its minimum). */
  refused: string | null;
}

/** What the newest confirmed window cost. */
export interface LastWindowCost {
  first: number;
  last: number;
  tx: string;
  bumps: number;
  entries: number | null;
  gasUsed: number | null;
  gasPriceWei: string | null;
  feeWei: string | null;
}

/** The loop's state, posted after every step; /healthz and the metrics show it. */
export interface AnchorStatus {
  network: string;
  networkId: number | null;
  /** The sending account. */
  account: string;
  gateway: string;
  /** The newest directory the anchor thread has seen sealed. */
  sealedHeight: number;
  /** The last directory height of the newest confirmed window (-1: none). */
  anchoredHeight: number;
  /** Directories sealed and not yet in a confirmed window. */
  backlog: number;
  /** The window in flight, if any. */
  window: WindowStatus | null;
  /** Windows not confirmed (more than one only after a reorganisation put confirmed ones back in flight). */
  inFlight: number;
  /** Confirmed windows whose block is still checked to be canonical (anchors.ethereum.watchBlocks). */
  watching: number;
  /** Windows confirmed since the gateway started. */
  windowsConfirmed: number;
  /** Reorganisations that dropped a window's transaction since the gateway started. */
  reanchors: number;
  /** Of those, the ones that took a window's block away after it was confirmed. */
  reorgsAfterConfirmation: number;
  /** Transactions re-signed with higher fees since the gateway started. */
  bumps: number;
  lastWindow: LastWindowCost | null;
  /** Costs of the windows confirmed today (UTC) and of all confirmed windows. */
  costs: { today: CostView; total: CostView };
  failures: number;
  failuresInRow: number;
  lastError: string | null;
  /** When the next attempt after a failure is due (ms since the epoch). */
  retryAt: number | null;
  /** When the loop last finished a step, whether it reached the node or not (ms since the epoch): it is alive. */
  steppedAt: number | null;
}

/** Crash points for tests (CHAINLANES_TEST_FAULTS), never set by a config. */
export interface AnchorFaults {
  /** SIGKILL the whole process right after this many fee bumps were stored and before the last is sent (0 = never). */
  killAfterBumpStored: number;
}

export interface AnchorThreadData {
  dataDir: string;
  settings: AnchorSettings;
  privateKey: string;
  faults: AnchorFaults;
}

export type AnchorQuery =
  { kind: 'proof'; height: number } | { kind: 'windows'; from: number; limit: number } | { kind: 'overlapping'; from: number; to: number; limit: number };

export type ToAnchorThread = { type: 'query'; id: number; query: AnchorQuery } | { type: 'stop' };

export type FromAnchorThread =
  | { type: 'status'; status: AnchorStatus }
  /** JSON text, or null when there is nothing there. */
  | { type: 'answer'; id: number; json: string | null; error?: string }
  | { type: 'event'; event: string; message: string; fields: Record<string, unknown> }
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };
