// The start-up check: the heads a gateway resumes from must be the ones its
// last seal left. The next seal links to the directory head's hash and to each
// chain head's block hash, so a head that does not decode or does not link
// would be built upon and the damage sealed in. This reads the last directory
// and the one before it, and each chain's last two blocks: O(chains) records,
// unlike `verify`, which reads everything.
import { chainIdOf } from './headers.js';
import { HASH_BYTES, sha256 } from './hash.js';
import { ADOPTED_DIRECTORY, blockRecordHeader, chainKey, decodeAnchorRecord, decodeBlockRecord, decodeDirectoryRecord, heightKey, readU64 } from './records.js';
import type { DirectoryRecord } from './records.js';
import { decodeEntryBlockHeader } from './headers.js';
import { lastKeyOfChain } from './tables.js';
import { truncationOfBlock } from './truncation.js';
import { latestStoredHead, storedLogLeaf, storedLogProofs, storedLogSize } from './log-store.js';
import { leafHash } from './merkle.js';
import type { LedgerTables } from './tables.js';

class HeadProblem extends Error {}

function problem(message: string): never {
  throw new HeadProblem(message);
}

function decodeOr<T>(decode: () => T, at: string): T {
  try {
    return decode();
  } catch (error) {
    problem(`${at} does not decode: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** What is wrong with the store's heads, or null when they match its last seal. */
export function checkHeads(tables: LedgerTables): string | null {
  try {
    new HeadCheck(tables).run();
    return null;
  } catch (error) {
    if (error instanceof HeadProblem) return error.message;
    throw error;
  }
}

class HeadCheck {
  private readonly directories = new Map<number, DirectoryRecord>();
  private lastDirectory = -1;

  constructor(private readonly tables: LedgerTables) {}

  run(): void {
    this.checkDirectoryHead();
    this.checkLogHead();
    for (const { key, value } of this.tables.chains.getRange({})) {
      this.checkChainHead(Buffer.from(key), value.toString('utf8'));
    }
  }

  private checkDirectoryHead(): void {
    for (const key of this.tables.directories.getKeys({ reverse: true, limit: 1 })) this.lastDirectory = readU64(key, 0);
    const anchorKeys = [...this.tables.anchors.getKeys({ reverse: true, limit: 1 })];
    const lastAnchor = anchorKeys.length === 0 ? -1 : readU64(anchorKeys[0]!, 0);
    if (lastAnchor !== this.lastDirectory) problem(`the last anchor record is for directory ${lastAnchor}, but the last directory is ${this.lastDirectory}`);
    if (this.lastDirectory < 0) return;
    const height = this.lastDirectory;
    const head = this.directory(height);
    const hash = sha256(head.headerBytes);
    // The anchor written in the same transaction holds the hash the next seal will link to.
    const anchorBytes = this.tables.anchors.get(heightKey(height));
    if (anchorBytes === undefined) problem(`directory ${height}: its anchor record is missing`);
    const anchor = decodeOr(() => decodeAnchorRecord(anchorBytes), `directory ${height}: the anchor record`);
    if (!anchor.hash.equals(hash)) problem(`directory ${height}: its hash differs from its anchor record's`);
    if (height > 0 && !head.header.prevHash.equals(sha256(this.directory(height - 1).headerBytes)))
      problem(`directory ${height}: prev link to directory ${height - 1} broken`);
  }

  /**
   * The directory log must end where the directories do (or before: a store
   * that predates it, or sealed with heads off, has it built on open), its last
   * leaf must be that directory's hash, and the newest signed head must have
   * the log's root. Else the directories or the log changed under the gateway,
   * and signing on would sign a history other than the one it signed before.
   */
  private checkLogHead(): void {
    const logged = storedLogSize(this.tables);
    if (logged > this.lastDirectory + 1)
      problem(`the directory log holds ${logged} directory hashes, but the store only ${this.lastDirectory + 1} directory blocks`);
    if (logged > 0) {
      const hash = sha256(this.directory(logged - 1).headerBytes);
      if (!storedLogLeaf(this.tables, logged - 1)?.equals(leafHash(hash))) {
        problem(
          `directory ${logged - 1}: its hash is not the directory log's leaf ${logged - 1}; the directory block changed after it was logged (and its heads signed)`,
        );
      }
    }
    const head = latestStoredHead(this.tables);
    if (head === null) return;
    if (head.size > logged) problem(`a head is signed at size ${head.size}, beyond the directory log's ${logged} hashes`);
    if (!storedLogProofs(this.tables).root(head.size).equals(head.root))
      problem(`the head signed at size ${head.size} has another root than the directory log at that size`);
  }

  private directory(height: number): DirectoryRecord {
    const cached = this.directories.get(height);
    if (cached !== undefined) return cached;
    const bytes = this.tables.directories.get(heightKey(height));
    if (bytes === undefined) problem(`directory ${height} is missing`);
    const record = decodeOr(() => decodeDirectoryRecord(bytes), `directory ${height}`);
    if (record.header.height !== height) problem(`directory ${height}: its header says height ${record.header.height}`);
    this.directories.set(height, record);
    return record;
  }

  private checkChainHead(chainId: Buffer, name: string): void {
    const chain = `chain ${JSON.stringify(name)}`;
    if (chainId.length !== HASH_BYTES || !chainIdOf(name).equals(chainId)) problem(`${chain}: stored chainId is not SHA-256 of its name`);
    const key = lastKeyOfChain(this.tables.blocks, chainId);
    if (key === undefined) {
      // A chain is named in the same transaction as its first block; a returning owner's truncation may have removed them all since.
      if (truncationOfBlock(this.tables, chainId, 0) !== null) return;
      problem(`${chain}: named in the store, but it has no block`);
    }
    const height = readU64(key, HASH_BYTES);
    const at = `${chain} block ${height}`;
    const bytes = this.tables.blocks.get(key);
    if (bytes === undefined) problem(`${at} is missing`);
    const record = decodeOr(() => decodeBlockRecord(bytes), at);
    const { header } = record;
    if (!header.chainId.equals(chainId) || header.height !== height) problem(`${at}: its header names another chain or height`);
    const hash = sha256(record.headerBytes);
    // Adopted from another gateway (a handoff, or seals replicated to this standby): another gateway's directory lists it, its proof says which.
    if (record.directoryHeight === ADOPTED_DIRECTORY) {
      if (!this.tables.adopted.doesExist(key)) problem(`${at}: adopted from another gateway, but its directory proof is missing`);
    } else {
      if (record.directoryHeight > this.lastDirectory)
        problem(`${at}: records directory ${record.directoryHeight}, after the last directory ${this.lastDirectory}`);
      const listed = this.directory(record.directoryHeight).entries.find((e) => e.chainId.equals(chainId) && e.height === height);
      if (listed === undefined) problem(`${at}: not listed in directory ${record.directoryHeight}, which it records`);
      if (!listed.blockHash.equals(hash)) problem(`${at}: its hash differs from the one directory ${record.directoryHeight} lists`);
    }
    if (height > 0) {
      const prevBytes = this.tables.blocks.get(chainKey(chainId, height - 1));
      if (prevBytes === undefined) problem(`${chain} block ${height - 1} is missing`);
      const prevHeaderBytes = decodeOr(() => blockRecordHeader(prevBytes), `${chain} block ${height - 1}`);
      const prev = decodeOr(() => decodeEntryBlockHeader(prevHeaderBytes), `${chain} block ${height - 1}`);
      if (!header.prevHash.equals(sha256(prevHeaderBytes))) problem(`${at}: prev link to block ${height - 1} broken`);
      if (prev.firstSeq + prev.count !== header.firstSeq)
        problem(`${at}: firstSeq ${header.firstSeq}, but block ${height - 1} ends at seq ${prev.firstSeq + prev.count}`);
    } else if (header.firstSeq !== 0) {
      problem(`${at}: firstSeq ${header.firstSeq}, but a chain starts at seq 0`);
    }
    const indexed = this.tables.seqIndex.get(chainKey(chainId, header.firstSeq));
    if (indexed === undefined || indexed.length !== 8 || readU64(indexed, 0) !== height) problem(`${at}: seq index entry missing or wrong`);
  }
}
