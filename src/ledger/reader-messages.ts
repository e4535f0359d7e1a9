/** One read the front door hands to a ledger reader thread. */
export type LedgerReadTask =
  /** With headSize: the proof's `head` part too (the directory hash in the log of that size). */
  | { kind: 'entry'; chain: string; seq: number; headSize?: number }
  | { kind: 'block'; chain: string; height: number }
  | { kind: 'directory'; height: number }
  | { kind: 'anchors'; from: number; limit: number }
  /** A page of a chain's blocks with their directory proofs, for a gateway adopting the chain: msgpack, not JSON (adopted.ts). */
  | { kind: 'export'; chain: string; from: number; maxBytes: number; self: { id: string; key: string } }
  /** Seal `height` for a standby, and the highest height sealed: msgpack `ShippedSealAnswer` (replica.ts). One seal per request. */
  | { kind: 'seal'; height: number }
  /** Entry hashes of seqs `seq` … `seq + count − 1` (a repeated client frame id's answer): the bytes, or null when not sealed. */
  | { kind: 'hashes'; chain: string; seq: number; count: number }
  /** The directory log (docs/protocol.md §13); the front door keeps sizes within its latest durable head. */
  | { kind: 'head'; size: number }
  | { kind: 'consistency'; from: number; to: number }
  | { kind: 'inclusion'; height: number; size: number };

export interface LedgerReaderData {
  dataDir: string;
}

/** The read tasks whose answer is msgpack bytes, not JSON. */
export type BinaryReadTask = Extract<LedgerReadTask, { kind: 'export' | 'seal' | 'hashes' }>;
