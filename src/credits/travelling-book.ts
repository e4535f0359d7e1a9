// A chain's credit book as it travels between gateways of a fleet: in a
// handoff's head (src/wiring/handoff.ts) and with the seals an owner ships
// to its standby (docs/replicas.md part 5: a takeover opens the chain's
// credits from the last book shipped). Whatever arrives is checked here
// before anything is stored from it; Credits.openChain stores it.
import type { ChainBookRecords } from './store.js';

/** `value` as a chain book when it has a book's shape, else null (the caller names the refusal). */
export function chainBookOr(value: unknown): ChainBookRecords | null {
  if (value === null || typeof value !== 'object') return null;
  const book = value as Partial<ChainBookRecords>;
  const valid =
    typeof book.chain?.owner === 'string' &&
    Array.isArray(book.policies) &&
    typeof book.balances === 'object' &&
    book.balances !== null &&
    Object.values(book.balances).every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) &&
    typeof book.accounts === 'object' &&
    book.accounts !== null;
  return valid ? (book as ChainBookRecords) : null;
}

/** One chain's book, named. */
export interface ChainBookOf {
  chain: string;
  book: ChainBookRecords;
}

/** The books a seal carries (its `credits`: JSON, `[{chain, book}…]`). */
export function encodeChainBooks(books: readonly ChainBookOf[]): Uint8Array {
  return Buffer.from(JSON.stringify(books), 'utf8');
}

/** The books a seal carried; throws naming the first that is not one. */
export function decodeChainBooks(bytes: Uint8Array): ChainBookOf[] {
  let list: unknown;
  try {
    list = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new Error('its credit books are not JSON');
  }
  if (!Array.isArray(list)) throw new Error('its credit books are not a list');
  return list.map((item: unknown, i) => {
    const { chain, book } = (item ?? {}) as { chain?: unknown; book?: unknown };
    const checked = chainBookOr(book);
    if (typeof chain !== 'string' || checked === null) throw new Error(`its credit book ${i} is not {chain, book: a chain's credit book}`);
    return { chain, book: checked };
  });
}

/** The bytes one chain's book is stored as (the standby's `ledger.replicaBooks`). */
export function encodeChainBook(book: ChainBookRecords): Uint8Array {
  return Buffer.from(JSON.stringify(book), 'utf8');
}

/** A book from the bytes a seal carried, or null when they are not one. */
export function decodeChainBook(bytes: Uint8Array): ChainBookRecords | null {
  try {
    return chainBookOr(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch {
    return null;
  }
}
