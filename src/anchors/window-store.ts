// Anchor windows in the store, in tables of their own beside the ledger's (the
// seal records are not touched):
//
//   anchors.windows  first directory height u64 → window record (JSON)
//   anchors.meta     "store-identity"           → 32 random bytes, made once
//                    "watch-from"               → u64: no window before this one is watched any more
//   anchors.costs    0x00                       → CostTotals of all confirmed windows (JSON)
//                    0x01 ‖ YYYY-MM-DD          → CostTotals of the windows confirmed that UTC day (JSON)
//
// A window is written before any of its transactions is sent and rewritten at
// each change of state, each write durable before the loop acts on it, so a
// restart finds the very transactions it may have sent. A window's record and
// the cost sums it moves are written in one transaction, so no crash counts a
// window twice or not at all.
import { randomBytes } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { parseTransaction, type Hex } from 'viem';
import { heightKey } from '../ledger/index.js';
import type { AnchorAttemptView, AnchorWindowView } from '../protocol/index.js';
import { NO_COSTS, addCost, type CostTotals, type WindowCost } from './costs.js';

export type WindowState = AnchorWindowView['state'];

/** A transaction signed for a window, with what it takes to send it again. */
export interface StoredAttempt extends AnchorAttemptView {
  /** The signed transaction, 0x-hex: sent again, never re-signed, while its nonce is free. */
  raw: string;
  /** Its gas limit, decimal: a replacement keeps it. */
  gas: string;
}

/** What a window holds while no transaction of it is mined: a new window's, and one sent again after a reorganisation or a lost nonce. */
export const NOT_MINED = {
  blockNumber: null,
  blockHash: null,
  confirmations: 0,
  confirmedAt: null,
  gasUsed: null,
  gasPriceWei: null,
  feeWei: null,
} as const;

/** What is kept of a window: its view plus the signed transactions, to send again or find again. */
export interface WindowRecord extends Omit<AnchorWindowView, 'attempts'> {
  attempts: StoredAttempt[];
  /** The sending account, 0x-hex. */
  from: string;
}

/** How a write moves the cost sums: a window newly confirmed adds its cost, one a reorganisation unconfirmed removes it. */
export interface CostChange {
  add?: WindowCost;
  remove?: WindowCost;
}

const IDENTITY_KEY = Buffer.from('store-identity');
const WATCH_FROM_KEY = Buffer.from('watch-from');
const TOTAL_KEY = Buffer.from([0]);
const DAY_PREFIX = 1;

export class WindowStore {
  private readonly windows: Database<Buffer, Buffer>;
  private readonly meta: Database<Buffer, Buffer>;
  private readonly costs: Database<Buffer, Buffer>;

  constructor(private readonly root: RootDatabase) {
    const table = (name: string): Database<Buffer, Buffer> => root.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' });
    this.windows = table('anchors.windows');
    this.meta = table('anchors.meta');
    this.costs = table('anchors.costs');
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

  /** Durable when it resolves, together with the cost sums `costs` moves. */
  async put(record: WindowRecord, costs: CostChange = {}): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(record));
    const sums = this.costChanges(costs);
    await this.root.childTransaction(() => {
      this.windows.putSync(heightKey(record.first), bytes);
      for (const [key, totals] of sums) this.costs.putSync(key, Buffer.from(JSON.stringify(totals)));
    });
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

  /** The first height of the oldest window that may still be watched (0 for a store that never said). */
  watchFrom(): number {
    const stored = this.meta.get(WATCH_FROM_KEY);
    return stored === undefined ? 0 : Number(Buffer.from(stored).readBigUInt64BE(0));
  }

  async setWatchFrom(first: number): Promise<void> {
    await this.meta.put(WATCH_FROM_KEY, heightKey(first));
    await this.root.flushed;
  }

  /** Costs of every confirmed window. */
  totalCosts(): CostTotals {
    return this.costsAt(TOTAL_KEY);
  }

  /** Costs of the windows confirmed on each of the last `limit` UTC days that had any, newest first. */
  dailyCosts(limit: number): Array<CostTotals & { day: string }> {
    const days = this.costs.getRange({ start: Buffer.from([DAY_PREFIX + 1]), end: Buffer.from([DAY_PREFIX]), reverse: true, limit });
    return [...days].map(({ key, value }) => ({
      day: Buffer.from(key).subarray(1).toString('ascii'),
      ...(JSON.parse(Buffer.from(value).toString('utf8')) as CostTotals),
    }));
  }

  /** Costs of the windows confirmed on UTC day `day` (YYYY-MM-DD). */
  dayCosts(day: string): CostTotals {
    return this.costsAt(dayKey(day));
  }

  private costsAt(key: Buffer): CostTotals {
    const stored = this.costs.get(key);
    return stored === undefined ? { ...NO_COSTS } : (JSON.parse(Buffer.from(stored).toString('utf8')) as CostTotals);
  }

  /** The cost rows a write changes, with their new sums. */
  private costChanges(change: CostChange): Map<Buffer, CostTotals> {
    const out = new Map<string, { key: Buffer; totals: CostTotals }>();
    const apply = (cost: WindowCost | undefined, sign: 1 | -1): void => {
      if (cost === undefined) return;
      for (const key of [TOTAL_KEY, dayKey(cost.day)]) {
        const id = key.toString('hex');
        const totals = out.get(id)?.totals ?? this.costsAt(key);
        out.set(id, { key, totals: addCost(totals, cost, sign) });
      }
    };
    apply(change.remove, -1);
    apply(change.add, 1);
    return new Map([...out.values()].map(({ key, totals }) => [key, totals]));
  }
}

function dayKey(day: string): Buffer {
  return Buffer.concat([Buffer.from([DAY_PREFIX]), Buffer.from(day, 'ascii')]);
}

function parse(value: Uint8Array): WindowRecord {
  return upgrade(JSON.parse(Buffer.from(value).toString('utf8')) as WindowRecord & { raw?: string });
}

/**
 * A record written before windows had several transactions kept its one as
 * `tx` and `raw`: it becomes the window's only attempt, its fees read back from
 * the signed bytes, and the window has no cost figures.
 */
function upgrade(record: WindowRecord & { raw?: string }): WindowRecord {
  if (record.attempts !== undefined) return record;
  const { raw, ...rest } = record;
  const signed = parseTransaction(raw as Hex);
  const attempt: StoredAttempt = {
    tx: record.tx,
    raw: raw!,
    gas: String(signed.gas ?? 0n),
    maxFeePerGas: String(signed.maxFeePerGas ?? 0n),
    maxPriorityFeePerGas: String(signed.maxPriorityFeePerGas ?? 0n),
    signedAt: record.createdAt,
    sentAt: record.state === 'signed' ? null : record.createdAt,
  };
  return { ...rest, attempts: [attempt], bumps: 0, entries: null, gasUsed: null, gasPriceWei: null, feeWei: null };
}

/**
 * The store's identity (made on first use): SHA-256 of it is the gateway id
 * its anchors carry, and what a fleet's member record and directory proofs
 * name the gateway by.
 */
export function storeIdentity(root: RootDatabase): Promise<Buffer> {
  return new WindowStore(root).identity();
}
