// Anchor windows and sinks (DESIGN.md "Anchors"): directory hashes written to
// Ethereum one window per transaction, by a thread of their own, and the
// `anchor` part of entry proofs.
export { AnchorService } from './service.js';
export { AnchoredReads, type AnchorQueries, type JsonReads } from './reads.js';
export { readAnchorKey } from './key-file.js';
export { encodeAnchorPayload, type AnchorPayload } from './payload.js';
export { WindowTree } from './window-tree.js';
export type { AnchorFaults, AnchorSettings, AnchorStatus } from './types.js';
export { storedWindows, type StoredWindows } from './stored-windows.js';
export { storeIdentity } from './window-store.js';
