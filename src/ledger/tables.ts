// The lmdb environment and its tables. Keys are raw bytes chosen so that lmdb's
// bytewise order is the order we range over:
//
//   blocks      chainId(32) ‖ height u64   → block record (header ‖ hashes ‖ ends ‖ contents)
//   seqIndex    chainId(32) ‖ firstSeq u64 → height u64   (last key ≤ (chainId, seq) finds a seq's block)
//   directories height u64                 → directory record (header ‖ [chainId, height, blockHash]…)
//   anchors     height u64                 → directory hash(32) ‖ sealedAt u64
//   chains      chainId(32)                → chain name, UTF-8
//   adopted     chainId(32) ‖ height u64   → the directory proof of a block adopted from another gateway (adopted.ts)
//   log         level u8 ‖ index u64       → root of a perfect subtree of the directory log (directory-log.ts)
//   heads       size u64                   → the newest signed head of that size: time u64 ‖ root ‖ signature (signed-heads.ts)
//   frameIds    chainId(32) ‖ seq u64      → producer(8) ‖ n u64 ‖ count u32: a client frame id, written with its block (frame-ids.ts)
//   replicaDirectories ownerKey(32) ‖ height u64 → an owner's directory record ‖ its signed head (0 or 104 bytes), on its standby (replica-store.ts)
//   replicas    ownerKey(32)               → JSON: where this standby has the owner (acked, its keys, its log's frontier) (replica-store.ts)
//   replicaSuperseded ownerKey(32) ‖ height u64 → JSON {by, token, at}: that replicated directory of the owner's is superseded, its blocks removed by the owner's truncation, none stored here for it (replica-store.ts)
//   replicaBooks ownerKey(32) ‖ chainId(32) → the chain's credit book as the owner last shipped it with a seal, bytes the credits module reads (replica-store.ts)
//   truncated   height u64                 → JSON {by, token, at, blocks: [[chain, height]…]}: this directory's blocks were removed by a returning owner's truncation (truncation.ts)
//   truncatedRanges chainId(32) ‖ firstSeq u64 → JSON: one chain's blocks, seqs and directories one truncation removed (truncation.ts)
import { existsSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../validation/index.js';
import { open } from 'lmdb';
import type { Database, DatabaseOptions, RootDatabase } from 'lmdb';
import { HASH_BYTES, sha256, zeroHash } from './hash.js';
import { decodeEntryBlockHeader, decodeDirectoryHeader } from './headers.js';
import { blockRecordHeader, chainKey, directoryRecordHeader } from './records.js';

export type Table = Database<Buffer, Buffer>;

export interface LedgerTables {
  root: RootDatabase;
  blocks: Table;
  seqIndex: Table;
  directories: Table;
  anchors: Table;
  chains: Table;
  adopted: Table;
  log: Table;
  heads: Table;
  frameIds: Table;
  replicaDirectories: Table;
  replicas: Table;
  replicaSuperseded: Table;
  replicaBooks: Table;
  truncated: Table;
  truncatedRanges: Table;
}

export interface ChainHead {
  chainName: string;
  chainId: Buffer;
  nextHeight: number;
  nextSeq: number;
  lastBlockHash: Buffer;
}

export interface DirectoryHead {
  nextHeight: number;
  lastHash: Buffer;
}

/**
 * One environment per data directory. Never opened with lmdb's readOnly: lmdb-js
 * shares one native environment per path within a process and keeps the flags of
 * whoever opened it first, so a read-only open on the main thread would make the
 * sealer thread's writes fail. Read-only is enforced by Ledger instead.
 */
/** 1 TiB. */
const MAP_BYTES = 2 ** 40;
/** The smallest map CHAINLANES_MAP_BYTES may ask for. */
const MIN_MAP_BYTES = 2 ** 30;
const MAP_BYTES_ENV = 'CHAINLANES_MAP_BYTES';

/**
 * The address space lmdb maps, from CHAINLANES_MAP_BYTES (1 GiB to 1 TiB) or
 * MAP_BYTES. Only for a process whose address space is smaller than 1 TiB:
 * valgrind gives its client ~128 GiB, and lmdb-js crashes (not throws) when the
 * map cannot be made, so `npm run bench -- --cost` asks for less.
 */
export function mapBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[MAP_BYTES_ENV];
  if (raw === undefined || raw === '') return MAP_BYTES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < MIN_MAP_BYTES || n > MAP_BYTES) {
    throw new ConfigError([`${MAP_BYTES_ENV} must be an integer number of bytes from ${MIN_MAP_BYTES} (1 GiB) to ${MAP_BYTES} (1 TiB), got ${raw}`]);
  }
  return n;
}

/** The store's lmdb environment; every module that keeps something in the store opens it here. */
export function openEnvironment(dir: string): RootDatabase {
  // noSubdir: false, or a directory name with a dot in it would be taken for a file.
  // mapSize is address space, not disk: reserving it up front spares the sealer
  // the remaps lmdb-js does each time a growing store outgrows its map.
  return open(dir, { noSubdir: false, maxDbs: 32, mapSize: mapBytes() });
}

/** lmdb's data file: a directory without it holds no store (and opening would create an empty one). */
export const STORE_DATA_FILE = 'data.mdb';

/**
 * Throws unless `dir` holds a store. Commands that only read or amend a store
 * call this first, so a mistyped --data is an error, not an empty store that "verifies".
 */
/** Refuses (ConfigError: the operator's to fix) a --data that names no gateway's store. */
export function assertStoreExists(dir: string): void {
  if (!existsSync(dir)) throw new ConfigError([`${dir} does not exist; --data must name a gateway's data directory`]);
  if (!statSync(dir).isDirectory()) throw new ConfigError([`${dir} is not a directory; --data must name a gateway's data directory`]);
  if (!existsSync(join(dir, STORE_DATA_FILE)))
    throw new ConfigError([`${dir} holds no chainlanes store (no ${STORE_DATA_FILE}); --data must name a gateway's data directory`]);
}

/**
 * The gateway's data directory, made if missing: only its last part, mode
 * 0700, so a mistyped path is refused rather than created silently.
 */
export function prepareDataDir(dir: string): void {
  const found = statOrNull(dir);
  if (found !== null) {
    if (found.isDirectory()) return;
    throw new ConfigError([`data directory ${dir} is a file, not a directory; --data must name a directory (made if missing)`]);
  }
  const parent = dirname(resolve(dir));
  const above = statOrNull(parent);
  if (above === null)
    throw new ConfigError([`data directory ${dir}: its parent ${parent} does not exist; create it first (chainlanes makes only the last part of the path)`]);
  if (!above.isDirectory()) throw new ConfigError([`data directory ${dir}: its parent ${parent} is not a directory`]);
  mkdirSync(dir, { mode: 0o700 });
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * The ledger's tables in `dir`. `forCheck`: for a check that must not write
 * (verify, the probe): a table a store made before it existed (`adopted`,
 * `frameIds`, the replicas', the truncations') is not created, and reads as empty.
 */
export function openTables(dir: string, forCheck = false): LedgerTables {
  const root = openEnvironment(dir);
  const table = (name: string): Table => root.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' });
  // `create` is lmdb-js's (open.js), missing from its typings: false opens only a table that exists (else undefined).
  const existing = (name: string): Table | undefined =>
    root.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary', create: false } as DatabaseOptions) as Table | undefined;
  return {
    root,
    blocks: table('ledger.blocks'),
    seqIndex: table('ledger.seqIndex'),
    directories: table('ledger.directories'),
    anchors: table('ledger.anchors'),
    chains: table('ledger.chains'),
    adopted: forCheck ? (existing('ledger.adopted') ?? emptyTable()) : table('ledger.adopted'),
    log: table('ledger.log'),
    heads: table('ledger.heads'),
    frameIds: forCheck ? (existing('ledger.frameIds') ?? emptyTable()) : table('ledger.frameIds'),
    replicaDirectories: forCheck ? (existing('ledger.replicaDirectories') ?? emptyTable()) : table('ledger.replicaDirectories'),
    replicas: forCheck ? (existing('ledger.replicas') ?? emptyTable()) : table('ledger.replicas'),
    replicaSuperseded: forCheck ? (existing('ledger.replicaSuperseded') ?? emptyTable()) : table('ledger.replicaSuperseded'),
    replicaBooks: forCheck ? (existing('ledger.replicaBooks') ?? emptyTable()) : table('ledger.replicaBooks'),
    truncated: forCheck ? (existing('ledger.truncated') ?? emptyTable()) : table('ledger.truncated'),
    truncatedRanges: forCheck ? (existing('ledger.truncatedRanges') ?? emptyTable()) : table('ledger.truncatedRanges'),
  };
}

/** A stand-in for a table the store does not have: it holds nothing (only what a check reads of it). */
function emptyTable(): Table {
  return { get: () => undefined, doesExist: () => false, getKeysCount: () => 0, getRange: () => [], getKeys: () => [] } as unknown as Table;
}

const U64_MAX = Buffer.alloc(8, 0xff);

/** The largest key of `table` starting with `chainId`, if any. */
export function lastKeyOfChain(table: Table, chainId: Buffer, atMost?: number): Buffer | undefined {
  const start = atMost === undefined ? Buffer.concat([chainId, U64_MAX]) : chainKey(chainId, atMost);
  // Reverse ranges run from `start` (inclusive) down to `end` (exclusive); the bare
  // chainId sorts before every chainId ‖ u64 key.
  for (const key of table.getKeys({ start, end: chainId, reverse: true, limit: 1 })) {
    if (key.length === HASH_BYTES + 8 && key.subarray(0, HASH_BYTES).equals(chainId)) return key;
  }
  return undefined;
}

export function loadChainHead(tables: LedgerTables, chainId: Buffer, chainName: string): ChainHead {
  const key = lastKeyOfChain(tables.blocks, chainId);
  const record = key === undefined ? undefined : tables.blocks.getBinaryFast(key);
  if (record === undefined) return { chainName, chainId, nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() };
  const headerBytes = blockRecordHeader(record);
  const header = decodeEntryBlockHeader(headerBytes);
  return {
    chainName,
    chainId,
    nextHeight: header.height + 1,
    nextSeq: header.firstSeq + header.count,
    lastBlockHash: sha256(headerBytes),
  };
}

export function loadChainHeads(tables: LedgerTables): ChainHead[] {
  const named = tables.chains.getRange({}).map(({ key, value }) => ({ chainId: Buffer.from(key), chainName: value.toString('utf8') }));
  return [...named].map(({ chainId, chainName }) => loadChainHead(tables, chainId, chainName));
}

export function loadDirectoryHead(tables: LedgerTables): DirectoryHead {
  for (const key of tables.directories.getKeys({ reverse: true, limit: 1 })) {
    const record = tables.directories.getBinaryFast(key);
    if (record === undefined) break;
    const headerBytes = directoryRecordHeader(record);
    return { nextHeight: decodeDirectoryHeader(headerBytes).height + 1, lastHash: sha256(headerBytes) };
  }
  return { nextHeight: 0, lastHash: zeroHash() };
}

export function chainNameOf(tables: LedgerTables, chainId: Uint8Array): string | undefined {
  return tables.chains.get(Buffer.from(chainId))?.toString('utf8');
}
