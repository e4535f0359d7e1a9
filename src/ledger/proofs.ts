// Building an entry's proof from stored records, re-checking every link before
// it leaves: a proof that would not verify becomes a LedgerCorruptionError.
import { HASH_BYTES, sha256 } from './hash.js';
import { chunkedAuditPath } from './chunks.js';
import { directoryLeaves } from './roots.js';
import { auditPath, leafHash, verifyAuditPath } from './merkle.js';
import type { RootFunction } from './merkle.js';
import type { BlockRecord, DirectoryRecord } from './records.js';
import { LedgerCorruptionError } from './errors.js';
import type { LedgerPlace } from './errors.js';
import type { DirectoryProof, EntryProof } from '../protocol/index.js';

export interface BlockPart {
  proof: Omit<EntryProof, 'directory'>;
  blockHash: Buffer;
  directoryHeight: number;
}

/** The entry-block half of a proof. `record` may alias a reused read buffer: nothing returned does. */
export function blockProofPart(chainName: string, chainId: Buffer, height: number, seq: number, record: BlockRecord, rootOf: RootFunction): BlockPart {
  const place: LedgerPlace = { chain: chainName, height, seq };
  const { header } = record;
  if (!header.chainId.equals(chainId) || header.height !== height) throw new LedgerCorruptionError(place, 'stored header names another chain or height');
  const index = seq - header.firstSeq;
  if (index < 0 || index >= header.count) throw new LedgerCorruptionError(place, 'seq index points at a block that does not hold it');
  const [start, end] = record.span(index);
  const content = record.contents.subarray(start, end);
  const hash = record.entryHashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  if (!sha256(content).equals(hash)) throw new LedgerCorruptionError(place, 'entry hash does not match its content');
  const path = chunkedAuditPath(record.entryHashes, header.count, index, record.chunkRoots, rootOf);
  // The path folds in every other hash of the entry's chunk and every stored chunk
  // root, so a proof that leaves here verifies against the header's root. (Other
  // chunks' hashes are not re-hashed per request; verifyStore checks all of them.)
  if (!verifyAuditPath(leafHash(hash), index, header.count, path, header.root))
    throw new LedgerCorruptionError(place, "stored hashes do not reproduce the header's root");
  const blockHash = sha256(record.headerBytes);
  return {
    proof: {
      chain: chainName,
      chainId: chainId.toString('hex'),
      seq,
      content: Buffer.from(content).toString('base64'),
      hash: Buffer.from(hash).toString('hex'),
      height,
      index,
      count: header.count,
      path: path.map((p) => p.toString('hex')),
      root: header.root.toString('hex'),
      header: Buffer.from(record.headerBytes).toString('hex'),
      blockHash: blockHash.toString('hex'),
    },
    blockHash,
    directoryHeight: record.directoryHeight,
  };
}

/** Where SHA-256(chainId ‖ blockHash) sits in its directory block, re-checked against the directory root. */
export function directoryProofPart(
  place: LedgerPlace,
  chainId: Buffer,
  blockHash: Buffer,
  directoryHeight: number,
  record: DirectoryRecord,
  rootOf: RootFunction,
): DirectoryProof {
  const where = { ...place, directoryHeight };
  const { header, entries } = record;
  if (header.height !== directoryHeight || header.count !== entries.length)
    throw new LedgerCorruptionError(where, 'directory header disagrees with its record');
  const index = entries.findIndex((e) => e.chainId.equals(chainId) && e.height === place.height);
  if (index < 0) throw new LedgerCorruptionError(where, 'directory block does not list this entry block');
  if (!entries[index]?.blockHash.equals(blockHash)) throw new LedgerCorruptionError(where, 'directory lists another hash for this entry block');
  const leaves = directoryLeaves(entries);
  const path = auditPath(leaves, entries.length, index, rootOf);
  const leaf = leafHash(leaves.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
  if (!verifyAuditPath(leaf, index, entries.length, path, header.root))
    throw new LedgerCorruptionError(where, 'directory leaves do not reproduce the directory root');
  return {
    height: directoryHeight,
    index,
    count: entries.length,
    path: path.map((p) => p.toString('hex')),
    root: header.root.toString('hex'),
    header: record.headerBytes.toString('hex'),
    hash: sha256(record.headerBytes).toString('hex'),
  };
}
