// chainlanes' TypeScript client: stream entries to a chain over protocol v1.
//
//   const client = await connect('ws://127.0.0.1:8080', 'orders', { reconnect: { minDelayMs: 100, maxDelayMs: 5000 } });
//   const { seq, hashes } = await client.submit(['first entry', new Uint8Array([1, 2, 3])]);
//   client.on('committed', (n) => console.log('durable up to', n.seq + n.count - 1));
import { ChainClient, type ConnectOptions } from './chain-client.js';
import { ChainError } from './errors.js';

export { ChainClient, type ClientEvents, type ConnectOptions, type FrameCommitStats, type FrameCommitted, type SubmitResult } from './chain-client.js';
export { ChainError, type ErrorCode } from './errors.js';
export { backoffDelay, type ReconnectOptions } from './backoff.js';
export type { CommittedNotice, Entry } from './protocol.js';
export {
  verifyEntry,
  verifyEntrySteps,
  type Sha256,
  type VerifyStep,
  type DirectoryProof,
  type EntryProof,
  type ExpectedEntry,
  type VerifyResult,
} from './verify.js';

/** The stream URL of `chain` under a gateway base URL (ws:, wss:, http: or https:). */
export function streamUrl(base: string | URL, chain: string): URL {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ChainError('connect_failed', `not a WebSocket URL: ${url.href}`);
  const prefix = url.pathname.endsWith('/') ? url.pathname : url.pathname + '/';
  url.pathname = `${prefix}v1/chains/${encodeURIComponent(chain)}/stream`;
  return url;
}

/**
 * Connects to `chain` on the gateway at `url`. Resolves once the first
 * connection is open; rejects if it cannot be opened, with the gateway's own
 * code and message (`unauthenticated`, `forbidden`, `unknown_chain`…) or
 * `connect_failed` with the cause. Reconnecting only applies to a connection
 * that was open once, so a wrong URL fails fast; a reconnect the gateway
 * refuses for good (a revoked key) stops reconnecting and says so (`error`).
 */
export async function connect(url: string | URL, chain: string, options: ConnectOptions = {}): Promise<ChainClient> {
  const client = new ChainClient(streamUrl(url, chain), chain, options);
  await client.dial();
  return client;
}
export {
  headMessage,
  headSignatureProblem,
  keyFingerprint,
  verifyConsistency,
  verifyCosignature,
  verifyHead,
  verifyInclusion,
  type ConsistencyProofView,
  type Cosignature,
  type HeadKeyView,
  type HeadProof,
  type HeadView,
  type InclusionProofView,
  type PublicKey,
  type SignedHead,
} from './heads.js';
export { anchorPayload, verifyAnchor, verifyAnchorTransaction, type AnchorProof, type AnchorResult, type AnchorWindowProof } from './anchor.js';
