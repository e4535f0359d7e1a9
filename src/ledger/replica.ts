// The standby's check of a seal shipped by its owner (docs/replicas.md part 3):
// the owner's directory header and the records of the entry blocks it lists,
// byte for byte as the owner stored them. What adopted.ts checks for a single
// block (chain, height, link, seq, entries, root, directory proof) holds for
// each; on top, the directory chain itself: the header continues the owner's
// directory chain where the standby has it (height, previous hash), lists
// exactly these blocks in the directory order (chainId, then height), and its
// root is their MTH. The standby computes each block's directory proof from
// the whole directory (it holds every leaf), so the blocks are stored in the
// adopted representation and proofs are served from them as they are.
// Not wired yet: the shipping stream and the sealer's `replicate` command come next.
import { AdoptionError, checkAdoptedBlock, type AdoptedProof, type ChainPosition, type SealingGateway } from './adopted.js';
import { HASH_BYTES, sha256 } from './hash.js';
import { chainIdOf, compareChainIds, decodeDirectoryHeader, decodeEntryBlockHeader, directoryLeafData, DIRECTORY_HEADER_BYTES } from './headers.js';
import { auditPath, type RootFunction } from './merkle.js';
import { blockRecordHeader, RecordFormatError, type BlockRecord } from './records.js';

/** A seal as the owner ships it: its directory header, and each listed block's chain name and stored record, in directory order. */
export interface ShippedSeal {
  directory: Uint8Array;
  blocks: { chain: string; record: Uint8Array }[];
}

/** Where the standby has the owner's directory chain: the next height and the hash of the last directory (zeros before the first). */
export interface DirectoryPosition {
  nextHeight: number;
  lastHash: Buffer;
}

/** A shipped seal refused: the message names the owner, the directory and what does not hold. */
export class ReplicaError extends Error {
  override name = 'ReplicaError';
}

export interface CheckedSealBlock {
  chain: string;
  /** The record marked adopted, ready to store. */
  stored: Buffer;
  record: BlockRecord;
  blockHash: Buffer;
  proof: AdoptedProof;
}

export interface CheckedSeal {
  blocks: CheckedSealBlock[];
  /** The owner's directory chain after this seal. */
  next: DirectoryPosition;
}

/**
 * Checks a shipped seal against where the standby has the owner's directory
 * chain (`at`) and each chain (`chainAt`: the position after the last block
 * it holds). Throws ReplicaError naming the fault; nothing is stored by it.
 */
export function checkShippedSeal(
  owner: SealingGateway,
  at: DirectoryPosition,
  seal: ShippedSeal,
  chainAt: (chain: string) => ChainPosition,
  rootOf: RootFunction,
): CheckedSeal {
  const fail = (problem: string): never => {
    throw new ReplicaError(`seal of gateway ${JSON.stringify(owner.id)} at directory ${at.nextHeight}: ${problem}`);
  };
  if (seal.directory.byteLength !== DIRECTORY_HEADER_BYTES) fail(`its directory header has ${seal.directory.byteLength} bytes, not ${DIRECTORY_HEADER_BYTES}`);
  const header = decodeDirectoryHeader(seal.directory);
  if (header.height !== at.nextHeight) fail(`its directory header says height ${header.height}`);
  if (!header.prevHash.equals(at.lastHash)) fail('its directory header does not link to the directory before it');
  if (header.count !== seal.blocks.length || header.count < 1) fail(`its directory lists ${header.count} blocks, and ${seal.blocks.length} came`);
  const leafData = directoryLeaves(seal, fail);
  if (!rootOf(leafData, header.count).equals(header.root)) fail("its blocks do not reproduce the directory header's root");
  const directoryHash = sha256(seal.directory);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const positions = new Map<string, ChainPosition>();
  const blocks = seal.blocks.map(({ chain, record }, index): CheckedSealBlock => {
    const proof: AdoptedProof = {
      gateway: owner,
      directory: {
        height: header.height,
        index,
        count: header.count,
        path: auditPath(leafData, header.count, index, rootOf).map(hex),
        root: hex(header.root),
        header: hex(seal.directory),
        hash: hex(directoryHash),
      },
    };
    const position = positions.get(chain) ?? chainAt(chain);
    const { stored, record: decoded, blockHash } = asReplicaError(fail, () => checkAdoptedBlock(chain, chainIdOf(chain), position, { record, proof }, rootOf));
    const { height, firstSeq, count } = decoded.header;
    positions.set(chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: blockHash });
    return { chain, stored, record: decoded, blockHash, proof };
  });
  return { blocks, next: { nextHeight: header.height + 1, lastHash: directoryHash } };
}

/** The directory's leaf data, checking that the blocks come in the directory's order: chainId, then height. */
function directoryLeaves(seal: ShippedSeal, fail: (problem: string) => never): Buffer {
  const leafData = Buffer.allocUnsafe(seal.blocks.length * HASH_BYTES);
  let previous: { chainId: Buffer; height: number } | null = null;
  seal.blocks.forEach(({ record }, i) => {
    const headerBytes = asReplicaError(fail, () => blockRecordHeader(record), `block ${i}: `);
    const { chainId, height } = decodeEntryBlockHeader(headerBytes);
    const order = previous === null ? -1 : compareChainIds(previous.chainId, chainId);
    if (previous !== null && (order > 0 || (order === 0 && previous.height >= height)))
      fail(`block ${i} is out of the directory's order (chainId, then height)`);
    previous = { chainId, height };
    directoryLeafData(chainId, sha256(headerBytes)).copy(leafData, i * HASH_BYTES);
  });
  return leafData;
}

/** Runs a check of adopted.ts or records.ts; its refusal becomes this seal's, anything else (a bug) goes on up. */
function asReplicaError<T>(fail: (problem: string) => never, check: () => T, prefix = ''): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof AdoptionError || error instanceof RecordFormatError) return fail(prefix + error.message);
    throw error;
  }
}
