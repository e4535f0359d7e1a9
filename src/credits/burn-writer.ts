// The sealer thread's side of the credits: it writes each block's burns in the
// same store transaction as the block (Ledger.seal's `alongside`), so a burn
// is durable exactly when the entries it paid for are.
import type { RootDatabase } from 'lmdb';
import { openCreditTables, writeBlockBurns, writeBlockRefunds, type BlockBurns, type CreditTables, type RemovedBlockBurns } from './store.js';

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

  /**
   * What gives back the burns of blocks a truncation removes, inside its
   * transaction (Ledger.truncateUnreplicated's `alongside`); undefined for a
   * store without credit tables (it never burned). Called before the
   * transaction: the tables are opened here, not inside it.
   */
  refunder(): ((blocks: readonly RemovedBlockBurns[], why: { by: string; token: number; at: number }) => void) | undefined {
    this.tables ??= openCreditTables(this.root, false);
    const tables = this.tables;
    if (tables === null) return undefined;
    return (blocks, why) => writeBlockRefunds(tables, blocks, why);
  }
}
