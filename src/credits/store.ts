// The credit tables, kept in the ledger's lmdb environment so that burns commit
// in the same transaction as the blocks they paid for. Keys are raw bytes in
// the order they are ranged over:
//
//   credits.accounts  accountId                              → {name, createdAt}
//   credits.keys      keyId                                  → {account, digest (hex SHA-256), createdAt, revokedAt}
//   credits.chains    chain name                             → {owner, createdAt}
//   credits.policies  chainId ‖ version u64                  → {fromSeq, policy, at}
//   credits.balances  chainId ‖ accountId                    → balance u64
//   credits.history   chainId ‖ height u64 ‖ kind u8 ‖ n u64  → a mint, transfer, block burn or read burns (JSON)
//   credits.meta      "serial"                               → the next history serial u64
//
// `height` is the directory height: a block's burns are written with the
// directory block that lists it; a mint, transfer or read burn gets the height
// of the next directory block at the time (so it sorts after everything sealed
// before it). Every write from the front door is durable before it resolves.
import type { Database, DatabaseOptions, RootDatabase, Transaction } from 'lmdb';
import { chainIdOf } from '../ledger/index.js';
import type { Policy } from './policy.js';

type Table = Database<Buffer, Buffer>;

export interface CreditTables {
  root: RootDatabase;
  accounts: Table;
  keys: Table;
  chains: Table;
  policies: Table;
  balances: Table;
  history: Table;
  meta: Table;
}

export interface AccountRecord {
  name: string;
  createdAt: number;
}

export interface KeyRecord {
  account: string;
  /** SHA-256 of the key, hex. */
  digest: string;
  createdAt: number;
  revokedAt: number | null;
  /** When the key stops working (ms since the epoch); absent or null: never. Records before expiry existed have none. */
  expiresAt?: number | null;
}

export interface ChainRecord {
  owner: string;
  createdAt: number;
}

export interface PolicyRecord {
  fromSeq: number;
  policy: Policy;
  at: number;
}

export type HistoryRecord =
  | { kind: 'mint'; to: string; amount: number; at: number }
  | { kind: 'transfer'; from: string; to: string; amount: number; at: number }
  /** What the writers of one entry block paid for it, by account. */
  | { kind: 'burn'; block: number; firstSeq: number; count: number; burns: Record<string, number> }
  /** What readers paid for reads since the last such record, by account. */
  | { kind: 'read'; burns: Record<string, number>; at: number }
  /** The chain came from another gateway of a fleet (a handoff) with these balances; `atSeq` is where it went on here. */
  | { kind: 'opening'; gateway: string; balances: Record<string, number>; atSeq: number; at: number }
  /** The chain went to another gateway of a fleet with these balances: this store holds none of them any more. */
  | { kind: 'closing'; gateway: string; balances: Record<string, number>; atSeq: number; at: number }
  /**
   * The burns of block `block` (its `burn` record at the same height) given back: a returning owner's truncation
   * removed the block (never committed: the standby that took the chain over by `token` had not acknowledged it).
   */
  | { kind: 'refund'; block: number; firstSeq: number; count: number; burns: Record<string, number>; by: string; token: number; at: number };

const KIND_BYTE: Record<HistoryRecord['kind'], number> = { mint: 1, transfer: 2, burn: 3, read: 4, opening: 5, closing: 6, refund: 7 };

const TABLE_NAMES = ['accounts', 'keys', 'chains', 'policies', 'balances', 'history', 'meta'] as const;
const SERIAL_KEY = Buffer.from('serial');

/**
 * The credit tables in `root`. With `create: false` (a read-only check) a
 * store without them gives null rather than gaining empty tables.
 */
export function openCreditTables(root: RootDatabase, create = true): CreditTables | null {
  const tables: Partial<Record<(typeof TABLE_NAMES)[number], Table>> = {};
  for (const name of TABLE_NAMES) {
    // `create` is lmdb-js's (open.js), missing from its typings: false opens only a table that exists,
    // and openDB then answers undefined for one that does not (its typings say it never does).
    const options = { keyEncoding: 'binary', encoding: 'binary', create } as DatabaseOptions;
    const table = root.openDB<Buffer, Buffer>(`credits.${name}`, options) as Table | undefined;
    if (table === undefined) return null;
    tables[name] = table;
  }
  return { root, ...(tables as Record<(typeof TABLE_NAMES)[number], Table>) };
}

// ---- keys and values

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function readU64(b: Buffer, at = 0): number {
  return Number(b.readBigUInt64BE(at));
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parse<T>(bytes: Buffer): T {
  return JSON.parse(bytes.toString('utf8')) as T;
}

export function balanceKey(chainId: Buffer, account: string): Buffer {
  return Buffer.concat([chainId, Buffer.from(account, 'utf8')]);
}

function policyKey(chainId: Buffer, version: number): Buffer {
  return Buffer.concat([chainId, u64(version)]);
}

function historyKey(chainId: Buffer, height: number, kind: HistoryRecord['kind'], n: number): Buffer {
  return Buffer.concat([chainId, u64(height), Buffer.from([KIND_BYTE[kind]]), u64(n)]);
}

/** What a store's credit tables hold that makes it a priced store: accounts, or chains with an owner. */
export interface CreditHoldings {
  accounts: number;
  /** Chain names with an owner, the first few only (for a message). */
  chains: string[];
  chainCount: number;
}

const NAMED_CHAINS = 5;

/**
 * What the credit tables in `root` hold, without creating them; null for a
 * store that has never had an account or an owned chain. Accounts are never
 * deleted, so a store that ever held one answers non-null for good.
 */
export function creditHoldings(root: RootDatabase): CreditHoldings | null {
  const tables = openCreditTables(root, false);
  if (tables === null) return null;
  const accounts = tables.accounts.getKeysCount();
  const chainCount = tables.chains.getKeysCount();
  if (accounts === 0 && chainCount === 0) return null;
  const chains = [...tables.chains.getKeys({ limit: NAMED_CHAINS })].map((key) => key.toString('utf8'));
  return { accounts, chains, chainCount };
}

// ---- reading everything at start-up

export interface CreditState {
  accounts: Map<string, AccountRecord>;
  keys: Map<string, KeyRecord>;
  chains: Map<string, ChainRecord>;
  /** By chain name, oldest version first. */
  policies: Map<string, { version: number; record: PolicyRecord }[]>;
  /** By chain name, then account. */
  balances: Map<string, Map<string, number>>;
  nextSerial: number;
}

export function loadCredits(tables: CreditTables, transaction?: Transaction): CreditState {
  const range = (table: Table) => table.getRange({ transaction });
  const accounts = new Map([...range(tables.accounts)].map(({ key, value }) => [key.toString('utf8'), parse<AccountRecord>(value)]));
  const keys = new Map([...range(tables.keys)].map(({ key, value }) => [key.toString('utf8'), parse<KeyRecord>(value)]));
  const chains = new Map([...range(tables.chains)].map(({ key, value }) => [key.toString('utf8'), parse<ChainRecord>(value)]));
  const nameOf = new Map([...chains.keys()].map((name) => [chainIdOf(name).toString('hex'), name]));
  const policies = new Map<string, { version: number; record: PolicyRecord }[]>();
  for (const { key, value } of range(tables.policies)) {
    const name = nameOf.get(key.subarray(0, 32).toString('hex'));
    if (name === undefined) continue;
    const list = policies.get(name) ?? [];
    list.push({ version: readU64(key, 32), record: parse<PolicyRecord>(value) });
    policies.set(name, list);
  }
  const balances = new Map<string, Map<string, number>>();
  for (const { key, value } of range(tables.balances)) {
    const name = nameOf.get(key.subarray(0, 32).toString('hex'));
    if (name === undefined) continue;
    const chain = balances.get(name) ?? new Map<string, number>();
    chain.set(key.subarray(32).toString('utf8'), readU64(value));
    balances.set(name, chain);
  }
  const serial = tables.meta.get(SERIAL_KEY, { transaction });
  return { accounts, keys, chains, policies, balances, nextSerial: serial === undefined ? 0 : readU64(serial) };
}

// ---- writes inside a transaction (the caller's)

/** Adds `delta` (negative: takes) to a balance; a balance never goes below zero or above 2^53 − 1. */
function addToBalance(tables: CreditTables, chainId: Buffer, account: string, delta: number): void {
  const key = balanceKey(chainId, account);
  const stored = tables.balances.get(key);
  const balance = (stored === undefined ? 0 : readU64(stored)) + delta;
  if (balance < 0 || !Number.isSafeInteger(balance)) {
    throw new Error(`credits: the balance of ${account} would become ${balance}; nothing was written`);
  }
  tables.balances.putSync(key, u64(balance));
}

function putHistory(tables: CreditTables, chainId: Buffer, height: number, n: number, record: HistoryRecord): void {
  tables.history.putSync(historyKey(chainId, height, record.kind, n), json(record));
}

function takeSerial(tables: CreditTables, n: number): void {
  const stored = tables.meta.get(SERIAL_KEY);
  if (stored === undefined || readU64(stored) <= n) tables.meta.putSync(SERIAL_KEY, u64(n + 1));
}

/** One entry block's burns, written inside the seal transaction (via the ledger's `alongside`). */
export interface BlockBurns {
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  burns: readonly (readonly [account: string, amount: number])[];
}

/**
 * Writes blocks' burns: a history record per block and the payers' balances.
 * Runs inside the seal's transaction; a throw aborts the whole seal.
 */
export function writeBlockBurns(tables: CreditTables, directoryHeight: number, blocks: readonly BlockBurns[]): void {
  for (const block of blocks) {
    if (block.burns.length === 0) continue;
    const chainId = chainIdOf(block.chainName);
    const burns: Record<string, number> = {};
    for (const [account, amount] of block.burns) {
      burns[account] = amount;
      addToBalance(tables, chainId, account, -amount);
    }
    putHistory(tables, chainId, directoryHeight, block.height, { kind: 'burn', block: block.height, firstSeq: block.firstSeq, count: block.count, burns });
  }
}

/** A block a truncation removes, and why (Ledger.truncateUnreplicated's `alongside`). */
export interface RemovedBlockBurns {
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  directoryHeight: number;
}

/**
 * Gives back the burns of blocks a truncation removes: each payer's balance
 * gets its burn back, and a `refund` record beside the block's `burn` record
 * (same directory height) says so — the history stays append-only, and
 * `verify` pairs the two. A block without burns (open mode, a free policy)
 * gets no record. Runs inside the truncation's transaction.
 */
export function writeBlockRefunds(tables: CreditTables, blocks: readonly RemovedBlockBurns[], why: { by: string; token: number; at: number }): void {
  for (const block of blocks) {
    const chainId = chainIdOf(block.chainName);
    const stored = tables.history.get(historyKey(chainId, block.directoryHeight, 'burn', block.height));
    if (stored === undefined) continue;
    const burn = parse<HistoryRecord>(stored);
    if (burn.kind !== 'burn' || burn.block !== block.height || burn.firstSeq !== block.firstSeq || burn.count !== block.count)
      throw new Error(`credits: the burn record of chain "${block.chainName}" block ${block.height} does not describe that block; nothing was written`);
    for (const [account, amount] of Object.entries(burn.burns)) addToBalance(tables, chainId, account, amount);
    putHistory(tables, chainId, block.directoryHeight, block.height, {
      kind: 'refund',
      block: block.height,
      firstSeq: block.firstSeq,
      count: block.count,
      burns: burn.burns,
      ...why,
    });
  }
}

// ---- durable writes from the front door

/** Runs `write` in one transaction and resolves once it is on disk. */
async function durably(tables: CreditTables, write: () => void): Promise<void> {
  await tables.root.transaction(write);
  await tables.root.flushed;
}

export function storeAccount(tables: CreditTables, id: string, account: AccountRecord, keyId: string, key: KeyRecord): Promise<void> {
  return durably(tables, () => {
    tables.accounts.putSync(Buffer.from(id), json(account));
    tables.keys.putSync(Buffer.from(keyId), json(key));
  });
}

/** An account some other gateway of the fleet made (its keys stay in the fleet's directory): kept so this store knows every account it may hold balances of. */
export function storeAccountIfAbsent(tables: CreditTables, id: string, account: AccountRecord): Promise<void> {
  return durably(tables, () => {
    if (tables.accounts.get(Buffer.from(id)) === undefined) tables.accounts.putSync(Buffer.from(id), json(account));
  });
}

export function storeKey(tables: CreditTables, keyId: string, key: KeyRecord): Promise<void> {
  return durably(tables, () => tables.keys.putSync(Buffer.from(keyId), json(key)));
}

export function storeChain(tables: CreditTables, name: string, chain: ChainRecord, policy: { version: number; record: PolicyRecord }): Promise<void> {
  return durably(tables, () => {
    tables.chains.putSync(Buffer.from(name), json(chain));
    tables.policies.putSync(policyKey(chainIdOf(name), policy.version), json(policy.record));
  });
}

export function storePolicies(tables: CreditTables, versions: readonly { chain: string; version: number; record: PolicyRecord }[]): Promise<void> {
  return durably(tables, () => {
    for (const v of versions) tables.policies.putSync(policyKey(chainIdOf(v.chain), v.version), json(v.record));
  });
}

export interface HistoryWrite {
  chain: string;
  height: number;
  serial: number;
}

export function storeMint(tables: CreditTables, at: HistoryWrite, to: string, amount: number, time: number): Promise<void> {
  const chainId = chainIdOf(at.chain);
  return durably(tables, () => {
    addToBalance(tables, chainId, to, amount);
    putHistory(tables, chainId, at.height, at.serial, { kind: 'mint', to, amount, at: time });
    takeSerial(tables, at.serial);
  });
}

export function storeTransfer(tables: CreditTables, at: HistoryWrite, from: string, to: string, amount: number, time: number): Promise<void> {
  const chainId = chainIdOf(at.chain);
  return durably(tables, () => {
    addToBalance(tables, chainId, from, -amount);
    addToBalance(tables, chainId, to, amount);
    putHistory(tables, chainId, at.height, at.serial, { kind: 'transfer', from, to, amount, at: time });
    takeSerial(tables, at.serial);
  });
}

/** Read burns of several chains, one record per chain. */
export function storeReadBurns(tables: CreditTables, writes: readonly (HistoryWrite & { burns: ReadonlyMap<string, number> })[], time: number): Promise<void> {
  return durably(tables, () => {
    for (const w of writes) {
      const chainId = chainIdOf(w.chain);
      for (const [account, amount] of w.burns) addToBalance(tables, chainId, account, -amount);
      putHistory(tables, chainId, w.height, w.serial, { kind: 'read', burns: Object.fromEntries(w.burns), at: time });
      takeSerial(tables, w.serial);
    }
  });
}

/** A chain's whole credit book as one gateway of a fleet hands it to another (credits/handoff.ts). */
export interface ChainBookRecords {
  chain: ChainRecord;
  policies: { version: number; record: PolicyRecord }[];
  balances: Record<string, number>;
  /** The owner's and every holder's account: the receiving store must know each account it holds balances of. */
  accounts: Record<string, AccountRecord>;
}

/**
 * The chain arrives from `gateway`: its owner, policies and balances, the
 * accounts they name (those this store lacks), and an opening record, in one
 * durable transaction. The balances are added to what the store holds for
 * the chain, which is nothing: a chain this store had is closed first (Credits.openChain).
 */
export function storeOpening(tables: CreditTables, at: HistoryWrite, gateway: string, book: ChainBookRecords, atSeq: number, time: number): Promise<void> {
  const chainId = chainIdOf(at.chain);
  return durably(tables, () => {
    for (const [id, account] of Object.entries(book.accounts))
      if (tables.accounts.get(Buffer.from(id)) === undefined) tables.accounts.putSync(Buffer.from(id), json(account));
    tables.chains.putSync(Buffer.from(at.chain), json(book.chain));
    for (const p of book.policies) tables.policies.putSync(policyKey(chainId, p.version), json(p.record));
    for (const [account, balance] of Object.entries(book.balances)) addToBalance(tables, chainId, account, balance);
    putHistory(tables, chainId, at.height, at.serial, { kind: 'opening', gateway, balances: book.balances, atSeq, at: time });
    takeSerial(tables, at.serial);
  });
}

/** The chain went to `gateway` with `balances`: they leave this store (a closing record; its balances drop to zero). */
export function storeClosing(
  tables: CreditTables,
  at: HistoryWrite,
  gateway: string,
  balances: Record<string, number>,
  atSeq: number,
  time: number,
): Promise<void> {
  const chainId = chainIdOf(at.chain);
  return durably(tables, () => {
    for (const [account, balance] of Object.entries(balances)) addToBalance(tables, chainId, account, -balance);
    putHistory(tables, chainId, at.height, at.serial, { kind: 'closing', gateway, balances, atSeq, at: time });
    takeSerial(tables, at.serial);
  });
}

/** A chain's credit book as the store holds it (durable balances), for a handoff. */
export function readChainBook(tables: CreditTables, name: string): ChainBookRecords | null {
  tables.root.resetReadTxn();
  const chainBytes = tables.chains.get(Buffer.from(name));
  if (chainBytes === undefined) return null;
  const chain = parse<ChainRecord>(chainBytes);
  const chainId = chainIdOf(name);
  const end = Buffer.concat([chainId, Buffer.alloc(8, 0xff)]);
  const policies = [...tables.policies.getRange({ start: chainId, end, inclusiveEnd: true })].map(({ key, value }) => ({
    version: readU64(key, 32),
    record: parse<PolicyRecord>(value),
  }));
  const balances: Record<string, number> = {};
  for (const { key, value } of tables.balances.getRange({ start: chainId, end: Buffer.concat([chainId, Buffer.from([0xff])]) })) {
    const balance = readU64(value);
    if (balance > 0) balances[key.subarray(32).toString('utf8')] = balance;
  }
  const accounts: Record<string, AccountRecord> = {};
  for (const id of [chain.owner, ...Object.keys(balances)]) {
    const bytes = tables.accounts.get(Buffer.from(id));
    if (bytes !== undefined) accounts[id] = parse<AccountRecord>(bytes);
  }
  return { chain, policies, balances, accounts };
}

// ---- reading the history

export interface HistoryRow {
  height: number;
  record: HistoryRecord;
}

/**
 * A chain's history from directory height `fromHeight` on, covering at most
 * `heights` distinct heights; `next` is the height after them, or null.
 */
export function readHistory(
  tables: CreditTables,
  chain: string,
  fromHeight: number,
  heights: number,
  transaction?: Transaction,
): { rows: HistoryRow[]; next: number | null } {
  const chainId = chainIdOf(chain);
  const rows: HistoryRow[] = [];
  const seen = new Set<number>();
  const end = Buffer.concat([chainId, Buffer.alloc(8, 0xff), Buffer.from([0xff])]);
  for (const { key, value } of tables.history.getRange({ start: Buffer.concat([chainId, u64(fromHeight)]), end, transaction })) {
    const height = readU64(key, 32);
    if (!seen.has(height)) {
      if (seen.size === heights) return { rows, next: height };
      seen.add(height);
    }
    rows.push({ height, record: parse<HistoryRecord>(value) });
  }
  return { rows, next: null };
}

/** Every history record of a chain, for the offline check. */
export function* allHistory(tables: CreditTables, chain: string, transaction: Transaction): Generator<HistoryRow> {
  const chainId = chainIdOf(chain);
  const end = Buffer.concat([chainId, Buffer.alloc(8, 0xff), Buffer.from([0xff])]);
  for (const { key, value } of tables.history.getRange({ start: chainId, end, transaction })) {
    yield { height: readU64(key, 32), record: parse<HistoryRecord>(value) };
  }
}
