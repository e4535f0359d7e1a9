// JSON views of stored blocks for the HTTP layer: hex for hashes and headers.
import { HASH_BYTES, sha256 } from './hash.js';
import type { BlockRecord, DirectoryRecord } from './records.js';
import type { BlockView, ChainView, DirectoryView } from '../protocol/index.js';
import type { ChainHead } from './tables.js';

export function blockView(chainName: string, record: BlockRecord): BlockView {
  const { header } = record;
  const entryHashes: string[] = [];
  for (let at = 0; at < record.entryHashes.length; at += HASH_BYTES) entryHashes.push(record.entryHashes.toString('hex', at, at + HASH_BYTES));
  return {
    chain: chainName,
    chainId: header.chainId.toString('hex'),
    height: header.height,
    prevHash: header.prevHash.toString('hex'),
    root: header.root.toString('hex'),
    firstSeq: header.firstSeq,
    count: header.count,
    sealedAt: header.sealedAt,
    header: record.headerBytes.toString('hex'),
    hash: sha256(record.headerBytes).toString('hex'),
    entryHashes,
    directory: record.directoryHeight,
  };
}

export function directoryView(record: DirectoryRecord, chainNameOf: (chainId: Buffer) => string): DirectoryView {
  const { header } = record;
  return {
    height: header.height,
    prevHash: header.prevHash.toString('hex'),
    root: header.root.toString('hex'),
    count: header.count,
    sealedAt: header.sealedAt,
    header: record.headerBytes.toString('hex'),
    hash: sha256(record.headerBytes).toString('hex'),
    entries: record.entries.map((e) => ({
      chainId: e.chainId.toString('hex'),
      chain: chainNameOf(e.chainId),
      height: e.height,
      blockHash: e.blockHash.toString('hex'),
    })),
  };
}

export function chainView(head: ChainHead): ChainView {
  return {
    chain: head.chainName,
    chainId: head.chainId.toString('hex'),
    nextHeight: head.nextHeight,
    nextSeq: head.nextSeq,
    lastBlockHash: head.lastBlockHash.toString('hex'),
  };
}
