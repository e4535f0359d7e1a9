/** One read the front door hands to a ledger reader thread. */
export type LedgerReadTask =
  | { kind: 'entry'; chain: string; seq: number }
  | { kind: 'block'; chain: string; height: number }
  | { kind: 'directory'; height: number }
  | { kind: 'anchors'; from: number; limit: number };

export interface LedgerReaderData {
  dataDir: string;
}
