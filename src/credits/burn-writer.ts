// The sealer thread's side of the credits: it writes each block's burns in the
// same store transaction as the block (Ledger.seal's `alongside`), so a burn
// is durable exactly when the entries it paid for are.
import type { RootDatabase } from 'lmdb';
import { openCreditTables, writeBlockBurns, type BlockBurns, type CreditTables } from './store.js';

export class BurnWriter {
  private readonly root: RootDatabase;
  private tables: CreditTables | null = null;

  constructor(root: RootDatabase) {
    this.root = root;
  }

  /** Writes inside the caller's transaction; a throw aborts it (a balance would go negative: a bug, never papered over). */
  write(directoryHeight: number, blocks: readonly BlockBurns[]): void {
    // Opened on first use: a gateway in open mode never burns and adds no credit tables.
    this.tables ??= openCreditTables(this.root)!;
    writeBlockBurns(this.tables, directoryHeight, blocks);
  }
}
