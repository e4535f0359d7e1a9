// JSON shapes the gateway serves over HTTP (docs/protocol.md §6 "HTTP routes"
// and §9 "The entry proof"). Types only: the ledger builds them, the client checks them.
import type { AnchorProof } from './anchor-views.js';
import type { HeadProof } from './head-views.js';

/** Where SHA-256(chainId ‖ blockHash) sits in its directory block's tree. */
export interface DirectoryProof {
  height: number;
  index: number;
  count: number;
  /** RFC 6962 audit path, leaf side first, hex. */
  path: string[];
  root: string;
  /** The 84-byte directory header, hex. */
  header: string;
  /** SHA-256(header), hex: what anchor sinks receive. */
  hash: string;
  /**
   * The gateway whose directory holds the block, for a block adopted from
   * another gateway of a fleet: its fleet id, and SHA-256 of its store
   * identity (its anchors' gateway id), hex. Absent: this gateway's own directory.
   */
  gateway?: { id: string; key: string };
}

/** `GET /v1/chains/{name}/entries/{seq}`, docs/protocol.md §9 "The entry proof". */
export interface EntryProof {
  chain: string;
  chainId: string;
  seq: number;
  /** Entry content, base64. */
  content: string;
  /** SHA-256(content), hex. */
  hash: string;
  /** Entry block height. */
  height: number;
  /** Position of the entry in its block (seq - firstSeq). */
  index: number;
  /** Entries in the block. */
  count: number;
  path: string[];
  root: string;
  /** The 124-byte entry block header, hex. */
  header: string;
  blockHash: string;
  /** Absent until the directory block is sealed (with this ledger it always is). */
  directory?: DirectoryProof;
  /** Absent until the directory block is in a confirmed anchor window. */
  anchor?: AnchorProof;
  /** Only when asked for (`?head=latest` or `?head=N`): the directory hash in a signed head of the directory log. */
  head?: HeadProof;
}

/** `GET /v1/chains/{name}/blocks/{height}`. */
export interface BlockView {
  chain: string;
  chainId: string;
  height: number;
  prevHash: string;
  root: string;
  firstSeq: number;
  count: number;
  sealedAt: number;
  header: string;
  hash: string;
  entryHashes: string[];
  /** Height of the directory block that lists this block. */
  directory: number;
  /** For a block adopted from another gateway of a fleet: whose directory `directory` is (see DirectoryProof.gateway). */
  gateway?: { id: string; key: string };
}

export interface DirectoryEntryView {
  chainId: string;
  chain: string;
  height: number;
  blockHash: string;
}

/** `GET /v1/directory/{height}`. */
export interface DirectoryView {
  height: number;
  prevHash: string;
  root: string;
  count: number;
  sealedAt: number;
  header: string;
  hash: string;
  entries: DirectoryEntryView[];
}

/** `GET /v1/chains` and `GET /v1/chains/{name}`. */
export interface ChainView {
  chain: string;
  chainId: string;
  nextHeight: number;
  nextSeq: number;
  /** Hex; 64 zeros before the first block. */
  lastBlockHash: string;
}

export interface AnchorView {
  height: number;
  hash: string;
  sealedAt: number;
}
