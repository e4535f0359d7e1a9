// Gateway settings kept in the store beside the ledger, so that every process
// and thread sees the same value and an operator can change it while the
// gateway runs (`chainlanes lanes --set`). Values are JSON.
import type { Database, RootDatabase } from 'lmdb';
import { openEnvironment } from './tables.js';

export class StoredSettings {
  private readonly root: RootDatabase;
  private readonly table: Database<Buffer, Buffer>;

  private constructor(root: RootDatabase) {
    this.root = root;
    this.table = root.openDB<Buffer, Buffer>('gateway.settings', { keyEncoding: 'binary', encoding: 'binary' });
  }

  static open(dir: string): StoredSettings {
    return new StoredSettings(openEnvironment(dir));
  }

  /** The value as last committed by anyone (another process included), or null. */
  get(key: string): unknown {
    // A fresh read snapshot: another process or thread may have written since.
    this.root.resetReadTxn();
    const raw = this.table.get(Buffer.from(key));
    return raw === undefined ? null : (JSON.parse(raw.toString('utf8')) as unknown);
  }

  /** Durable when it resolves. */
  async put(key: string, value: unknown): Promise<void> {
    await this.table.put(Buffer.from(key), Buffer.from(JSON.stringify(value)));
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

export const LANE_TABLE_KEY = 'lane-table';
