// Anchor windows in the store, in tables of their own beside the ledger's (the
// seal records are not touched):
//
//   anchors.windows  first directory height u64 → window record (JSON)
//   anchors.meta     "store-identity"           → 32 random bytes, made once
//
// A window is written before its transaction is sent and rewritten at each
// change of state, each write durable before the loop acts on it, so a restart
// finds the very transaction it may have sent.
import { randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { heightKey } from '../ledger/index.js';
import type { AnchorWindowView } from '../protocol/index.js';

export type WindowState = AnchorWindowView['state'];

/** What is kept of a window: its view plus the signed transaction, to send again or find again. */
export interface WindowRecord extends AnchorWindowView {
  /** The signed transaction, 0x-hex: sent again, never re-signed, while its nonce is free. */
  raw: string;
  /** The sending account, 0x-hex. */
  from: string;
}

const IDENTITY_KEY = Buffer.from('store-identity');

export class WindowStore {
  private readonly windows: Database<Buffer, Buffer>;
  private readonly meta: Database<Buffer, Buffer>;

  constructor(private readonly root: RootDatabase) {
    this.windows = root.openDB<Buffer, Buffer>('anchors.windows', { keyEncoding: 'binary', encoding: 'binary' });
    this.meta = root.openDB<Buffer, Buffer>('anchors.meta', { keyEncoding: 'binary', encoding: 'binary' });
  }

  /** The store's identity, made on first use; the gateway id is its SHA-256. */
  async identity(): Promise<Buffer> {
    const stored = this.meta.get(IDENTITY_KEY);
    if (stored !== undefined) return Buffer.from(stored);
    const made = randomBytes(32);
    await this.meta.put(IDENTITY_KEY, made);
    await this.root.flushed;
    return made;
  }

  /** The identity if one was made, without making one (for readers such as `verify`). */
  storedIdentity(): Buffer | undefined {
    const stored = this.meta.get(IDENTITY_KEY);
    return stored === undefined ? undefined : Buffer.from(stored);
  }

  /** Durable when it resolves. */
  async put(record: WindowRecord): Promise<void> {
    await this.windows.put(heightKey(record.first), Buffer.from(JSON.stringify(record)));
    await this.root.flushed;
  }

  /** The newest window, if any. */
  latest(): WindowRecord | undefined {
    this.root.resetReadTxn();
    for (const { value } of this.windows.getRange({ reverse: true, limit: 1 })) return parse(value);
    return undefined;
  }

  /** The window holding directory `height`, if any. */
  holding(height: number): WindowRecord | undefined {
    this.root.resetReadTxn();
    for (const { value } of this.windows.getRange({ start: heightKey(height), reverse: true, limit: 1 })) {
      const record = parse(value);
      return record.last >= height ? record : undefined;
    }
    return undefined;
  }

  /** Windows whose first height is `from` or more, oldest first. */
  list(from: number, limit: number): WindowRecord[] {
    this.root.resetReadTxn();
    return [...this.windows.getRange({ start: heightKey(from), limit })].map(({ value }) => parse(value));
  }

  /** Windows overlapping directory heights [from, to], oldest first. */
  overlapping(from: number, to: number, limit: number): WindowRecord[] {
    const before = this.holding(from);
    const after = this.list(from + 1, limit).filter((w) => w.first <= to);
    return (before === undefined ? after : [before, ...after.filter((w) => w.first !== before.first)]).slice(0, limit);
  }
}

function parse(value: Uint8Array): WindowRecord {
  return JSON.parse(Buffer.from(value).toString('utf8')) as WindowRecord;
}
