/** Where in the ledger something went wrong, for messages like `chain "bank-1" block 7 seq 12`. */
export interface LedgerPlace {
  chain?: string;
  height?: number;
  seq?: number;
  directoryHeight?: number;
}

export function describePlace(place: LedgerPlace): string {
  const parts: string[] = [];
  if (place.chain !== undefined) parts.push(`chain ${JSON.stringify(place.chain)}`);
  if (place.height !== undefined) parts.push(`block ${place.height}`);
  if (place.seq !== undefined) parts.push(`seq ${place.seq}`);
  if (place.directoryHeight !== undefined) parts.push(`directory ${place.directoryHeight}`);
  return parts.length > 0 ? parts.join(' ') : 'ledger';
}

/**
 * Stored bytes no longer prove what they should. Thrown instead of serving a proof
 * that would not verify; the HTTP layer should answer `internal`.
 */
export class LedgerCorruptionError extends Error {
  override name = 'LedgerCorruptionError';
  readonly place: LedgerPlace;
  constructor(place: LedgerPlace, problem: string) {
    super(`${describePlace(place)}: ${problem}`);
    this.place = place;
  }
}

/** A seal input the ledger refuses before writing anything (wrong firstSeq, bad lengths, …). */
export class SealInputError extends Error {
  override name = 'SealInputError';
}

/** The store moved under this Ledger (another writer sealed the same directory). Nothing was written. */
export class SealConflictError extends Error {
  override name = 'SealConflictError';
}

/**
 * The store refused a write: a failed commit (ENOSPC, EIO, MDB_MAP_FULL…) or a
 * failed flush. The message names the cause as the system or lmdb gave it.
 */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError';
}

/**
 * The store cannot be trusted as a whole: a damaged lmdb file, or heads that
 * do not match the last seal. The message says "the store in DIR is corrupt: …".
 */
export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError';
  constructor(dir: string, problem: string) {
    super(`the store in ${dir} is corrupt: ${problem}`);
  }
}
