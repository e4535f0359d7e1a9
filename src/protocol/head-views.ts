// JSON shapes of the directory log's signed heads and proofs (docs/protocol.md
// §13). Types only: the ledger and the gateway build them, the client and the
// monitor check them. Hashes, keys and signatures are lowercase hex.

/** A head the gateway signed: its 88-byte message (head-format.ts) is built from these and its log id. */
export interface SignedHead {
  /** Directory hashes in the log: heights 0 … size − 1. */
  size: number;
  /** When it was signed, ms since the epoch. */
  time: number;
  /** RFC 6962 MTH over the directory hashes 0 … size − 1, hex. */
  root: string;
  /** Ed25519 over the head's message, 64 bytes hex. */
  signature: string;
}

/** A witness's co-signature of a head it checked, with the head it covers. */
export interface Cosignature {
  /** The witness's Ed25519 public key, 32 bytes hex. */
  witness: string;
  /** When the witness signed, ms since the epoch. */
  time: number;
  /** Ed25519 by the witness over its 104-byte co-signature message, hex. */
  signature: string;
  head: SignedHead;
}

/** `GET /v1/directory/head`: the head and what a client needs beside it. */
export interface HeadView extends SignedHead {
  /** The gateway's public key, hex (a client checks it against the key it trusts, never simply uses it). */
  key: string;
  /** The newest co-signature of each configured witness (each of its own head, usually older than this one). */
  cosignatures: Cosignature[];
}

/** `GET /v1/directory/key`. */
export interface HeadKeyView {
  algorithm: 'ed25519';
  /** Raw 32-byte public key, hex. */
  key: string;
  /** SHA-256 of the raw key, hex: the log id in every signed head. */
  fingerprint: string;
}

/** `GET /v1/directory/consistency?from=M&to=N`: RFC 9162 §2.1.4 proof that the log of size M is a prefix of the log of size N. */
export interface ConsistencyProofView {
  from: number;
  to: number;
  path: string[];
}

/** `GET /v1/directory/inclusion?height=H&size=N`: the audit path of directory hash H in the log of size N. */
export interface InclusionProofView {
  height: number;
  size: number;
  /** The directory hash at `height` (the leaf data), hex. */
  hash: string;
  path: string[];
}

/**
 * An entry proof's `head` part (`?head=latest` or `?head=N`): the directory
 * hash's path into the log of `size`, that log's root, and the head the
 * gateway signed at that size. `time` and `signature` are absent only for a
 * size the gateway never signed (before its store had heads): a client that
 * holds its own head of that size checks the path against that head's root.
 */
export interface HeadProof {
  size: number;
  root: string;
  /** Audit path of the proof's directory hash, leaf index directory.height, in the tree of `size`. */
  path: string[];
  time?: number;
  signature?: string;
}
