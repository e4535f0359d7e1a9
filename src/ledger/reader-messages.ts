/** One read the front door hands to a ledger reader thread. */
export type LedgerReadTask =
  | { kind: 'entry'; chain: string; seq: number }
  | { kind: 'block'; chain: string; height: number }
  | { kind: 'directory'; height: number }
  | { kind: 'anchors'; from: number; limit: number }
  /** A page of a chain's blocks with their directory proofs, for a gateway adopting the chain: msgpack, not JSON (adopted.ts). */
  | { kind: 'export'; chain: string; from: number; maxBytes: number; self: { id: string; key: string } };

export interface LedgerReaderData {
  dataDir: string;
}
