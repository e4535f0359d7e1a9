// A window's tree: RFC 6962 over its directory hashes in height order (leaf
// data = the 32-byte directory hash), built with the ledger's Merkle code.
import { auditPath, blockRoot } from '../ledger/index.js';
import { HASH_BYTES } from '../protocol/index.js';

export class WindowTree {
  /** The directory hashes, concatenated in height order. */
  private readonly leaves: Buffer;
  readonly root: Buffer;

  constructor(
    readonly first: number,
    hashes: readonly Buffer[],
  ) {
    if (hashes.length === 0) throw new RangeError('anchor window: no directory hashes');
    this.leaves = Buffer.concat(hashes);
    this.root = blockRoot(this.leaves, hashes.length);
  }

  get count(): number {
    return this.leaves.length / HASH_BYTES;
  }

  get last(): number {
    return this.first + this.count - 1;
  }

  /** The audit path of directory `height`, leaf side first. */
  path(height: number): Buffer[] {
    return auditPath(this.leaves, this.count, height - this.first);
  }
}
