// A chain's credit book as seals carry it to a standby (src/credits/travelling-book.ts).
import { describe, expect, it } from 'vitest';
import { decodeChainBook, decodeChainBooks, encodeChainBook, encodeChainBooks, type ChainBookRecords } from '../../src/credits/index.js';

const BOOK: ChainBookRecords = {
  chain: { owner: 'acct_aaaaaaaaaaaaaaaa', createdAt: 1 },
  policies: [
    {
      version: 1,
      record: { fromSeq: 0, policy: { writePerEntry: 1, writePerKiB: 0, readPerEntry: 0, writers: 'owner', readers: 'owner', transferable: false }, at: 2 },
    },
  ],
  balances: { acct_aaaaaaaaaaaaaaaa: 990 },
  accounts: { acct_aaaaaaaaaaaaaaaa: { name: 'owner', createdAt: 1 } },
};

const bytesOf = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('credit books carried with seals', () => {
  it('round trip, alone and as a seal’s list', () => {
    expect(decodeChainBook(encodeChainBook(BOOK))).toEqual(BOOK);
    const books = [
      { chain: 'bank', book: BOOK },
      { chain: 'shop', book: { ...BOOK, balances: {} } },
    ];
    expect(decodeChainBooks(encodeChainBooks(books))).toEqual(books);
  });

  it('refuses what is not a list of named books, naming the first that is not', () => {
    expect(() => decodeChainBooks(Buffer.from('{'))).toThrow(/its credit books are not JSON/);
    expect(() => decodeChainBooks(bytesOf({ chain: 'bank', book: BOOK }))).toThrow(/its credit books are not a list/);
    expect(() =>
      decodeChainBooks(
        bytesOf([
          { chain: 'bank', book: BOOK },
          { chain: 7, book: BOOK },
        ]),
      ),
    ).toThrow(/its credit book 1 is not/);
    expect(() => decodeChainBooks(bytesOf([null]))).toThrow(/its credit book 0 is not/);
    for (const bad of [
      { ...BOOK, balances: { acct_aaaaaaaaaaaaaaaa: -1 } },
      { ...BOOK, balances: { acct_aaaaaaaaaaaaaaaa: 1.5 } },
      { ...BOOK, chain: {} },
      { ...BOOK, policies: null },
      { ...BOOK, accounts: null },
    ]) {
      expect(() => decodeChainBooks(bytesOf([{ chain: 'bank', book: bad }])), JSON.stringify(bad)).toThrow(/its credit book 0 is not/);
      expect(decodeChainBook(bytesOf(bad))).toBeNull();
    }
    expect(decodeChainBook(Buffer.from('not json'))).toBeNull();
  });
});
