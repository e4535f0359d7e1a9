// verifyStore's walk of the directories a standby holds of its owners
// (`ledger.replicaDirectories`, replica-store.ts): each owner's chain of
// directories from 0 — height, link, the record's list in directory order
// reproducing its header's root — its signed heads against the directory log
// recomputed from those hashes, the position `ledger.replicas` records, and
// the blocks: a directory whose blocks were replicated has each of them here
// (its hash the one listed), a superseded one (`ledger.replicaSuperseded`:
// the owner's truncation removed its blocks, none came) has none of its own —
// the heights it lists may hold the blocks that went on after the failover.
import type { Transaction } from 'lmdb';
import { HASH_BYTES, sha256, zeroHash } from './hash.js';
import { compareChainIds, decodeDirectoryHeader } from './headers.js';
import { LogFrontier } from './directory-log.js';
import { blockRecordHeader, chainKey, decodeDirectoryRecord, directoryRecordBytes, directoryRecordHeader, readU64, type DirectoryRecord } from './records.js';
import { ownerKeyOf } from './replica-store.js';
import { directoryLeaves, fastRoot } from './roots.js';
import { decodeHeadRecord, HEAD_RECORD_BYTES } from './signed-heads.js';
import type { LedgerTables } from './tables.js';
import type { TruncationMark } from './truncation.js';

/** One owner's directories as a standby holds them. */
export interface ReplicatedReport {
  owner: string;
  /** Directories held, 0 … directories − 1. */
  directories: number;
  /** Of them, those superseded (their blocks removed by the owner's truncation), one row per truncation. */
  superseded: { by: string; token: number; at: number; directories: { from: number; to: number; count: number }; blocks: number }[];
}

type Fail = (message: string) => never;

/** Walks every owner's replicated directories; `fail` stops the walk at the first break. */
export function walkReplicaDirectories(tables: LedgerTables, transaction: Transaction, fail: Fail): ReplicatedReport[] {
  const reports: ReplicatedReport[] = [];
  let marks = 0;
  for (const { key, value } of tables.replicas.getRange({ transaction })) {
    const state = parse<{ id: string; nextHeight: number; lastHash: string }>(value, `replica state ${key.toString('hex')}`, fail);
    if (typeof state.id !== 'string' || !ownerKeyOf(state.id).equals(key)) fail(`replica state ${key.toString('hex')}: its id does not hash to its key`);
    const report = walkOwner(tables, transaction, key, state, fail);
    marks += sumOf(report.superseded.map((s) => s.directories.count));
    reports.push(report);
  }
  const rows = tables.replicaDirectories.getKeysCount({ transaction });
  const held = sumOf(reports.map((r) => r.directories));
  if (rows !== held) fail(`store holds ${rows} replicated directories, and its owners' positions account for ${held}`);
  const stored = tables.replicaSuperseded.getKeysCount({ transaction });
  if (stored !== marks) fail(`store holds ${stored} superseded marks of replicated directories, expected ${marks}`);
  return reports;
}

function walkOwner(
  tables: LedgerTables,
  transaction: Transaction,
  ownerKey: Buffer,
  state: { id: string; nextHeight: number; lastHash: string },
  fail: Fail,
): ReplicatedReport {
  const report: ReplicatedReport = { owner: state.id, directories: 0, superseded: [] };
  let prevHash = zeroHash();
  let log = LogFrontier.empty;
  const end = Buffer.concat([ownerKey, Buffer.alloc(8, 0xff)]);
  for (const { key, value } of tables.replicaDirectories.getRange({ start: ownerKey, end, inclusiveEnd: true, transaction })) {
    const height = report.directories;
    const at = `gateway ${JSON.stringify(state.id)}'s replicated directory ${height}`;
    if (readU64(key, HASH_BYTES) !== height) fail(`${at}: missing (next stored is ${readU64(key, HASH_BYTES)})`);
    const record = decoded(() => decodeDirectoryRecord(value.subarray(0, recordLength(value, fail, at))), at, fail);
    checkDirectory(record, height, prevHash, at, fail);
    prevHash = sha256(record.headerBytes);
    log = log.append(prevHash).next;
    const headBytes = value.subarray(directoryRecordBytes(record.header.count));
    if (headBytes.length > 0) {
      const head = decoded(() => decodeHeadRecord(height + 1, headBytes), `${at}'s signed head`, fail);
      if (!head.root.equals(log.root())) fail(`${at}: its signed head's root is not the root of the owner's directory log of size ${height + 1}`);
    }
    const mark = tables.replicaSuperseded.get(key, { transaction });
    if (mark === undefined) checkBlocksHeld(tables, transaction, record, at, fail);
    else countSuperseded(report, parse<TruncationMark>(mark, `${at}'s superseded mark`, fail), height, record.entries.length);
    report.directories++;
  }
  if (report.directories !== state.nextHeight || !prevHash.equals(Buffer.from(state.lastHash, 'hex')))
    fail(`gateway ${JSON.stringify(state.id)}'s replica position says ${state.nextHeight} directories, and the store holds ${report.directories} linked`);
  return report;
}

function recordLength(value: Buffer, fail: Fail, at: string): number {
  const { count } = decoded(() => decodeDirectoryHeader(directoryRecordHeader(value)), at, fail);
  const bytes = directoryRecordBytes(count);
  if (value.length !== bytes && value.length !== bytes + HEAD_RECORD_BYTES) fail(`${at}: ${value.length} bytes, not its record with or without a head`);
  return bytes;
}

function checkDirectory(record: DirectoryRecord, height: number, prevHash: Buffer, at: string, fail: Fail): void {
  const { header, entries } = record;
  if (header.height !== height) fail(`${at}: header says height ${header.height}`);
  if (!header.prevHash.equals(prevHash)) fail(`${at}: prev link broken`);
  if (header.count !== entries.length || header.count < 1) fail(`${at}: header count ${header.count} but ${entries.length} blocks listed`);
  for (let i = 1; i < entries.length; i++) {
    const order = compareChainIds(entries[i - 1]!.chainId, entries[i]!.chainId) || entries[i - 1]!.height - entries[i]!.height;
    if (order >= 0) fail(`${at}: entries not in strict (chainId, height) order at ${i}`);
  }
  if (!fastRoot(directoryLeaves(entries), entries.length).equals(header.root)) fail(`${at}: root mismatch`);
}

/** A directory whose blocks were replicated: each is here, the block it lists (the walk of adopted blocks checked their contents). */
function checkBlocksHeld(tables: LedgerTables, transaction: Transaction, record: DirectoryRecord, at: string, fail: Fail): void {
  for (const { chainId, height, blockHash } of record.entries) {
    const bytes = tables.blocks.get(chainKey(chainId, height), { transaction });
    const hash = bytes === undefined ? undefined : decoded(() => sha256(blockRecordHeader(bytes)), at, fail);
    if (hash === undefined || !hash.equals(blockHash))
      fail(`${at}: lists block ${height} of chain ${chainId.toString('hex')}, which is not the one stored here`);
  }
}

function countSuperseded(report: ReplicatedReport, mark: TruncationMark, height: number, blocks: number): void {
  const last = report.superseded[report.superseded.length - 1];
  if (last !== undefined && last.by === mark.by && last.token === mark.token && last.directories.to === height - 1) {
    last.directories.to = height;
    last.directories.count++;
    last.blocks += blocks;
    return;
  }
  report.superseded.push({ by: mark.by, token: mark.token, at: mark.at, directories: { from: height, to: height, count: 1 }, blocks });
}

function parse<T>(bytes: Buffer, at: string, fail: Fail): T {
  return decoded(() => JSON.parse(bytes.toString('utf8')) as T, at, fail);
}

function decoded<T>(decode: () => T, at: string, fail: Fail): T {
  try {
    return decode();
  } catch (error) {
    return fail(`${at}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
