// The ledger's public face: entries → entry blocks → directory blocks, their
// Merkle proofs, the lmdb store, anchor sinks and the offline store check.
export { Ledger } from './store.js';
export type { AlongsideWrites, LedgerHeads, LedgerOptions, TruncationWrites } from './store.js';
export type { PreparedBlockInput, SealBlockInput, SealInput, SealResult, SealedBlock, SealedDirectory } from './seal-plan.js';
export { prepareBlockRecord } from './prepared.js';
export type { BlockPiece, BlockSource, PreparedRecord } from './prepared.js';
export type { ChainHead, DirectoryHead } from './tables.js';
export { STORE_DATA_FILE, assertStoreExists, prepareDataDir } from './tables.js';
export { LedgerCorruptionError, SealConflictError, SealInputError, StoreCorruptError, StoreWriteError } from './errors.js';
export { describeStoreError, isLmdbCommitFailure } from './commit-failure.js';
export type { LedgerPlace } from './errors.js';
export { FileAnchorSink } from './anchors.js';
export { ADOPTED_DIRECTORY, directoryRecordBytes, directoryRecordHeader, heightKey, RecordFormatError } from './records.js';
export { AdoptionError, type AdoptedProof, type ChainPosition, type ExportedBlock, type SealingGateway } from './adopted.js';
export { checkShippedSeal, ReplicaError, type CheckedSeal, type DirectoryPosition, type ShippedSeal } from './replica.js';
export type { ReplicaDirectory, ReplicaOwner, ReplicaPosition, ReplicatedSeals } from './replica-store.js';
export {
  SUPERSEDED,
  SupersededError,
  TruncationError,
  truncationMarkProblem,
  type RemovedBlock,
  type TruncatedChain,
  type TruncationMark,
  type TruncationRequest,
  type TruncationResult,
} from './truncation.js';
export { FRAME_ID_ROW_BYTES, type RecentFrameId, type StoredFrameId } from './frame-ids.js';
export type { AnchorErrorHandler, AnchorRecord, AnchorSink } from './anchors.js';
export { verifyStore } from './verify-store.js';
export { checkStoreFile, probeStore, verifyStoreIsolated } from './store-probe.js';
export { StoredSettings, LANE_TABLE_KEY } from './settings.js';
export { StoreLock, StoreLockedError, STORE_LOCK_FILE } from './store-lock.js';
export { LedgerReaders, type ShippedSealAnswer } from './readers.js';
export type { LedgerReadTask } from './reader-messages.js';
export type { CheckedBlock, StoreCheck, StoreReport } from './verify-store.js';
export type { StoreChecksModule } from './store-probe-process.js';
export {
  chainIdOf,
  compareChainIds,
  decodeDirectoryHeader,
  decodeEntryBlockHeader,
  directoryLeafData,
  DIRECTORY_HEADER_BYTES,
  encodeDirectoryHeader,
  encodeEntryBlockHeader,
  ENTRY_BLOCK_HEADER_BYTES,
} from './headers.js';
export type { DirectoryHeader, EntryBlockHeader } from './headers.js';
export { LogFrontier, LogProofs, LogRangeError, logNodeKey, verifyConsistency, type LogNode, type LogNodeSource } from './directory-log.js';
export { HEAD_RECORD_BYTES, headVerifier, publicKeyObject, signedHeadView, type HeadSigner, type SignedHeadRecord } from './signed-heads.js';
export { auditPath, blockRoot, leafHash, nodeHash, rootFromAuditPath, treeHash, verifyAuditPath } from './merkle.js';
export type { RootFunction } from './merkle.js';
export type { AnchorView, BlockView, ChainView, DirectoryEntryView, DirectoryProof, DirectoryView, EntryProof } from '../protocol/index.js';
