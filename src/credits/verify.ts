// `chainlanes verify`'s check of the credits, in the same read snapshot as the
// ledger's walk: per chain, the supply (every balance added up) equals what
// was minted minus what was burned, and every entry block's recorded burns
// equal what its entries cost under the policy in force for their seqs.
import type { RootDatabase, Transaction } from 'lmdb';
import type { CheckedBlock, StoreCheck } from '../ledger/index.js';
import { entryCost, policyAt, type PolicyVersion } from './policy.js';
import { allHistory, loadCredits, openCreditTables, type CreditTables } from './store.js';

interface ChainCheck {
  versions: PolicyVersion[];
  // BigInt: what was ever minted or burned may pass 2^53 even though each supply stays below it.
  held: bigint;
  minted: bigint;
  burned: bigint;
  /** Burns given back for blocks a returning owner's truncation removed (refund records). */
  refunded: bigint;
  /** Balances that came with the chain from other gateways (opening records), and that went with it (closing records). */
  opened: bigint;
  closed: bigint;
  /** Recorded burns not yet matched to a block: block height → its record. */
  blockBurns: Map<number, { firstSeq: number; count: number; total: number }>;
  blocksChecked: number;
}

export class CreditCheck implements StoreCheck {
  private chains = new Map<string, ChainCheck>();
  private tables: CreditTables | null = null;
  private blocks = 0;

  open(root: RootDatabase): void {
    this.tables = openCreditTables(root, false);
  }

  begin(transaction: Transaction): string | undefined {
    const tables = this.tables;
    if (tables === null) return undefined;
    const state = loadCredits(tables, transaction);
    for (const name of state.chains.keys()) {
      const versions = (state.policies.get(name) ?? []).map(({ version, record }) => ({ version, fromSeq: record.fromSeq, policy: record.policy }));
      const check: ChainCheck = { versions, held: 0n, minted: 0n, burned: 0n, refunded: 0n, opened: 0n, closed: 0n, blockBurns: new Map(), blocksChecked: 0 };
      for (const [account, balance] of state.balances.get(name) ?? []) {
        if (!state.accounts.has(account)) return `credits of chain "${name}": a balance of ${balance} held by unknown account ${account}`;
        check.held += BigInt(balance);
      }
      const problem = this.readHistory(name, check, tables, transaction);
      if (problem !== undefined) return problem;
      this.chains.set(name, check);
    }
    return undefined;
  }

  private readHistory(name: string, check: ChainCheck, tables: CreditTables, transaction: Transaction): string | undefined {
    for (const { height, record } of allHistory(tables, name, transaction)) {
      if (record.kind === 'mint') check.minted += BigInt(record.amount);
      else if (record.kind === 'opening') check.opened += BigInt(sum(Object.values(record.balances)));
      else if (record.kind === 'closing') check.closed += BigInt(sum(Object.values(record.balances)));
      else if (record.kind === 'read') check.burned += BigInt(sum(Object.values(record.burns)));
      else if (record.kind === 'burn') {
        const total = sum(Object.values(record.burns));
        if (check.blockBurns.has(record.block)) return `credits of chain "${name}": two burn records for block ${record.block} (directory ${height})`;
        check.blockBurns.set(record.block, { firstSeq: record.firstSeq, count: record.count, total });
        check.burned += BigInt(total);
      } else if (record.kind === 'refund') {
        // Written beside the block's burn record (same height, a later kind): the two cancel, and the block is gone.
        const total = sum(Object.values(record.burns));
        const burn = check.blockBurns.get(record.block);
        if (burn === undefined || burn.firstSeq !== record.firstSeq || burn.count !== record.count || burn.total !== total)
          return `credits of chain "${name}": a refund of ${total} for block ${record.block} (directory ${height}) that no burn record of that block matches`;
        check.blockBurns.delete(record.block);
        check.refunded += BigInt(total);
      }
    }
    return undefined;
  }

  block(block: CheckedBlock): string | undefined {
    const check = this.chains.get(block.chainName);
    if (check === undefined) return undefined;
    // Paid for on the gateway that sealed it; what was left came with the chain (an opening record).
    if (block.adopted) return undefined;
    const at = `credits of chain "${block.chainName}" block ${block.height}`;
    let cost = 0;
    for (let i = 0; i < block.count; i++) cost += entryCost(policyAt(check.versions, block.firstSeq + i), block.entryBytes(i));
    const recorded = check.blockBurns.get(block.height);
    check.blockBurns.delete(block.height);
    if (recorded !== undefined && (recorded.firstSeq !== block.firstSeq || recorded.count !== block.count)) {
      return `${at}: burns recorded for seqs ${recorded.firstSeq}…${recorded.firstSeq + recorded.count - 1}, but the block holds ${block.firstSeq}…${block.firstSeq + block.count - 1}`;
    }
    if ((recorded?.total ?? 0) !== cost) {
      return `${at}: ${recorded?.total ?? 0} credits burned, but its ${block.count} entries cost ${cost} under the policy in force`;
    }
    check.blocksChecked++;
    this.blocks++;
    return undefined;
  }

  end(): string | undefined {
    for (const [name, check] of this.chains) {
      const [orphan] = check.blockBurns.keys();
      if (orphan !== undefined) return `credits of chain "${name}": burns recorded for block ${orphan}, which the ledger does not hold`;
      const expected = check.minted + check.opened - check.burned + check.refunded - check.closed;
      if (check.held !== expected) {
        const moved = check.opened === 0n && check.closed === 0n ? '' : ` + ${check.opened} opened − ${check.closed} closed (handoffs)`;
        const refunded = check.refunded === 0n ? '' : ` + ${check.refunded} refunded (truncations)`;
        return `credits of chain "${name}": the balances add up to ${check.held}, but ${check.minted} minted − ${check.burned} burned${refunded}${moved} = ${expected}`;
      }
    }
    return undefined;
  }

  summary(): string {
    if (this.tables === null) return 'credits: none in this store (open mode)';
    const totals = [...this.chains.values()].reduce(
      (t, c) => ({
        minted: t.minted + c.minted,
        burned: t.burned + c.burned,
        refunded: t.refunded + c.refunded,
        held: t.held + c.held,
        opened: t.opened + c.opened,
        closed: t.closed + c.closed,
      }),
      { minted: 0n, burned: 0n, refunded: 0n, held: 0n, opened: 0n, closed: 0n },
    );
    const moved = totals.opened === 0n && totals.closed === 0n ? '' : ` + ${totals.opened} opened − ${totals.closed} closed (handoffs)`;
    const refunded = totals.refunded === 0n ? '' : ` + ${totals.refunded} refunded (truncations)`;
    return (
      `credits: ${this.chains.size} chains, ${totals.minted} minted − ${totals.burned} burned${refunded}${moved} = ${totals.held} held; ` +
      `the burns of ${this.blocks} blocks match their entries and policies`
    );
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
