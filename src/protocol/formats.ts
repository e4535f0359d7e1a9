// The data layer's exact bytes (docs/protocol.md §8 "Data layer"): sizes and
// field offsets of the two block headers and the Merkle tree's prefixes.
// Everything is big-endian and hashed with SHA-256.

/** SHA-256 output: entry hashes, chain ids, roots, block and directory hashes. */
export const HASH_BYTES = 32;

/** RFC 6962 domain separation: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right). */
export const MERKLE_LEAF_PREFIX = 0x00;
export const MERKLE_NODE_PREFIX = 0x01;

/** Entry block header: chainId ‖ height u64 ‖ prevHash ‖ root ‖ firstSeq u64 ‖ count u32 ‖ sealedAt u64. */
export const ENTRY_BLOCK_HEADER = {
  chainId: 0,
  height: 32,
  prevHash: 40,
  root: 72,
  firstSeq: 104,
  count: 112,
  sealedAt: 116,
  bytes: 124,
} as const;

/** Directory block header: height u64 ‖ prevHash ‖ root ‖ count u32 ‖ sealedAt u64. */
export const DIRECTORY_HEADER = {
  height: 0,
  prevHash: 8,
  root: 40,
  count: 72,
  sealedAt: 76,
  bytes: 84,
} as const;

export const ENTRY_BLOCK_HEADER_BYTES = ENTRY_BLOCK_HEADER.bytes;
export const DIRECTORY_HEADER_BYTES = DIRECTORY_HEADER.bytes;
