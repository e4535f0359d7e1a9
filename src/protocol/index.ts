// Protocol v1 and the data layer's formats, as docs/protocol.md specifies them:
// the constants and types every side shares (front door, ledger, client).
// Nothing here does I/O or depends on Node, so browsers can use it too.
export { ERROR_CODES, HTTP_STATUS, countByErrorCode, type ErrorCode } from './errors.js';
export { SEAL_BYTES_PER_ENTRY, SEAL_MESSAGE_FIXED_BYTES, sealBytesOfFrame } from './seal-bound.js';
export { CHAIN_NAME_RULE, MAX_CHAIN_NAME_BYTES, isChainName, parseChainName } from './chain-name.js';
export {
  DIRECTORY_HEADER,
  DIRECTORY_HEADER_BYTES,
  ENTRY_BLOCK_HEADER,
  ENTRY_BLOCK_HEADER_BYTES,
  HASH_BYTES,
  MERKLE_LEAF_PREFIX,
  MERKLE_NODE_PREFIX,
} from './formats.js';
export { FRAME_ID_BYTES, FRAME_ID_EXT_TYPE, FRAME_ID_MARK, FRAME_ID_RULE, PRODUCER_BYTES, encodeFrameId, readFrameId, type FrameId } from './frame-id.js';
export type { AcceptedReply, CommittedNotice, Entry, ErrorReply, Reply } from './replies.js';
export type { AnchorView, BlockView, ChainView, DirectoryEntryView, DirectoryProof, DirectoryView, EntryProof } from './views.js';
export { ANCHOR_MAGIC, ANCHOR_PAYLOAD, ETHEREUM_NETWORK } from './anchor-format.js';
export type { AnchorAttemptView, AnchorProof, AnchorWindowProof, AnchorWindowView } from './anchor-views.js';
export {
  COSIGNATURE_MAGIC,
  COSIGNATURE_MESSAGE,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  HEAD_MAGIC,
  HEAD_MESSAGE,
  encodeCosignatureMessage,
  encodeHeadMessage,
} from './head-format.js';
export type { ConsistencyProofView, Cosignature, HeadKeyView, HeadProof, HeadView, InclusionProofView, SignedHead } from './head-views.js';
