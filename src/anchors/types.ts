// What crosses between the front door and the anchor thread: a handful of
// messages per window and per proof request, never anything per entry.
import type { AnchorWindowView } from '../protocol/index.js';

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
  window: { first: number; last: number; state: AnchorWindowView['state']; tx: string; nonce: number; confirmations: number } | null;
  /** Windows confirmed since the gateway started. */
  windowsConfirmed: number;
  /** Reorganisations that dropped a window's transaction since the gateway started. */
  reanchors: number;
  failures: number;
  failuresInRow: number;
  lastError: string | null;
  /** When the next attempt after a failure is due (ms since the epoch). */
  retryAt: number | null;
}

export interface AnchorThreadData {
  dataDir: string;
  settings: AnchorSettings;
  privateKey: string;
}

export type AnchorQuery =
  | { kind: 'proof'; height: number }
  | { kind: 'windows'; from: number; limit: number }
  | { kind: 'overlapping'; from: number; to: number; limit: number };

export type ToAnchorThread = { type: 'query'; id: number; query: AnchorQuery } | { type: 'stop' };

export type FromAnchorThread =
  | { type: 'status'; status: AnchorStatus }
  /** JSON text, or null when there is nothing there. */
  | { type: 'answer'; id: number; json: string | null; error?: string }
  | { type: 'event'; event: string; message: string; fields: Record<string, unknown> }
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };
