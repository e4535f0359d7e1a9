// The credits core without a gateway: key format and checksum, costs, the
// policy in force for a seq, and the front door's book (bills, burns split
// across blocks, refusals).
import { describe, expect, it } from 'vitest';
import { CreditBook, FREE_POLICY, KEY_LENGTH, keyDigest, newKey, policyAt, spanCost, entryCost, type Policy, type Principal } from '../../src/credits/index.js';

/** A valid key, fixed so that the typo test below is deterministic. */
const KNOWN_KEY = 'clk_zxv5hja4yspnf3kaqvhynaeaajuwuvm72sss';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

const OWNER = 'acct_aaaaaaaaaaaaaaaa';
const USER = 'acct_bbbbbbbbbbbbbbbb';
const OTHER = 'acct_cccccccccccccccc';

function spansOf(lengths: number[]): Int32Array {
  const spans = new Int32Array(lengths.length * 2);
  lengths.forEach((length, i) => {
    spans[2 * i + 1] = length;
  });
  return spans;
}

function priced(changes: Partial<Policy>): Policy {
  return { ...FREE_POLICY, ...changes };
}

function bookWithChain(policy: Policy): { book: CreditBook; admin: Principal; user: Principal } {
  const admin = newKey();
  const book = new CreditBook(keyDigest(admin)!);
  const chain = book.addChain('shop', OWNER, { version: 1, fromSeq: 0, policy });
  chain.credit(USER, 100);
  chain.credit(OWNER, 50);
  return { book, admin: { kind: 'admin' }, user: { kind: 'account', account: USER, keyId: 'key_aaaaaaaaaaaaaaaa' } };
}

describe('keys', () => {
  it('are clk_, 160 random bits in base32 and a checksum, 40 characters', () => {
    const key = newKey();
    expect(key).toMatch(/^clk_[a-z2-7]{36}$/);
    expect(key).toHaveLength(KEY_LENGTH);
    expect(keyDigest(key)).toHaveLength(32);
    expect(new Set(Array.from({ length: 100 }, newKey)).size).toBe(100);
  });

  it('refuse every single-character typo, a wrong prefix, a wrong case and a wrong length by the checksum alone', () => {
    expect(keyDigest(KNOWN_KEY)).not.toBeNull();
    let typos = 0;
    for (let i = 4; i < KNOWN_KEY.length; i++) {
      for (const c of ALPHABET) {
        if (c === KNOWN_KEY[i]) continue;
        expect(keyDigest(KNOWN_KEY.slice(0, i) + c + KNOWN_KEY.slice(i + 1)), `typo at ${i}`).toBeNull();
        typos++;
      }
    }
    expect(typos).toBe(36 * 31);
    for (const bad of ['', 'clk_', KNOWN_KEY.toUpperCase(), 'clx_' + KNOWN_KEY.slice(4), KNOWN_KEY + 'a', KNOWN_KEY.slice(0, -1), ` ${KNOWN_KEY}`]) {
      expect(keyDigest(bad), bad).toBeNull();
    }
  });
});

describe('costs', () => {
  it('charge writePerEntry + writePerKiB × ⌈bytes/1024⌉ per entry, a frame the sum', () => {
    const policy = priced({ writePerEntry: 3, writePerKiB: 2 });
    expect(entryCost(policy, 0)).toBe(3);
    expect(entryCost(policy, 1)).toBe(5);
    expect(entryCost(policy, 1024)).toBe(5);
    expect(entryCost(policy, 1025)).toBe(7);
    const spans = spansOf([0, 1, 1024, 1025, 4096]);
    expect(spanCost(policy, spans, 0, 5)).toBe(3 + 5 + 5 + 7 + 11);
    expect(spanCost(policy, spans, 0, 2) + spanCost(policy, spans, 2, 5)).toBe(spanCost(policy, spans, 0, 5));
  });

  it('price each seq by the latest policy version that starts at or before it', () => {
    const p = (n: number): Policy => priced({ writePerEntry: n });
    // v2 was recorded from seq 100, the gateway crashed at 80, and v3 re-recorded v2's policy from 80.
    const versions = [
      { version: 0, fromSeq: 0, policy: p(1) },
      { version: 2, fromSeq: 100, policy: p(2) },
      { version: 3, fromSeq: 80, policy: p(2) },
      { version: 4, fromSeq: 150, policy: p(3) },
    ];
    expect(policyAt(versions, 0).writePerEntry).toBe(1);
    expect(policyAt(versions, 79).writePerEntry).toBe(1);
    expect(policyAt(versions, 80).writePerEntry).toBe(2);
    expect(policyAt(versions, 120).writePerEntry).toBe(2);
    expect(policyAt(versions, 150).writePerEntry).toBe(3);
    expect(policyAt([{ version: 0, fromSeq: 10, policy: p(5) }], 3)).toBe(FREE_POLICY);
  });
});

describe('the book', () => {
  it('authenticates the admin key and refuses others cheaply, with reasons', () => {
    const admin = newKey();
    const book = new CreditBook(keyDigest(admin)!);
    expect(book.authenticate(admin)).toEqual({ kind: 'admin' });
    expect(book.authenticate(null)).toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no key/) });
    expect(book.authenticate('hunter2')).toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/malformed/) });
    expect(book.authenticate(newKey())).toMatchObject({ code: 'unauthenticated', message: 'unknown or revoked key' });
  });

  it('bills a frame without touching the balance, and burns it into the blocks its entries fell into', () => {
    const { book, user } = bookWithChain(priced({ writePerEntry: 1, writePerKiB: 1, writers: 'any' }));
    const spans = spansOf([10, 2000, 10, 10]); // costs 2, 3, 2, 2
    const bill = book.bill('shop', user, 4, spans);
    if (!('total' in bill)) throw new Error(bill.message);
    expect(bill.total).toBe(9);
    expect(book.chains.get('shop')!.balanceOf(USER)).toBe(100);
    // The frame's seqs 98…101 straddle a block cut at 100.
    book.burn(bill, 90, 0, 2);
    book.burn(bill, 100, 2, 4);
    const chain = book.chains.get('shop')!;
    expect(chain.balanceOf(USER)).toBe(91);
    expect(chain.supply).toBe(141);
    // Burned is counted per block as it is cut (the dashboard's credits per minute), not per frame.
    expect(chain.burned).toBe(0);
    expect(book.takeBurns('shop', 90)).toEqual([[USER, 5]]);
    expect(chain.burned).toBe(5);
    expect(book.takeBurns('shop', 90)).toBeUndefined();
    expect(book.takeBurns('shop', 100)).toEqual([[USER, 4]]);
    expect(chain.burned).toBe(9);
  });

  it('refuses what may not be written, with the balance and the cost when credits are short', () => {
    const { book, admin, user } = bookWithChain(priced({ writePerEntry: 30, writers: [OTHER] }));
    const one = spansOf([5]);
    const four = spansOf([5, 5, 5, 5]);
    expect(book.bill('nope', user, 1, one)).toMatchObject({ code: 'unknown_chain' });
    expect(book.bill('shop', admin, 1, one)).toMatchObject({ code: 'forbidden' });
    expect(book.bill('shop', user, 1, one)).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/writers/) });
    const owner: Principal = { kind: 'account', account: OWNER, keyId: 'key_x' };
    expect(book.bill('shop', owner, 1, one)).toMatchObject({ total: 30 });
    expect(book.bill('shop', owner, 4, four)).toMatchObject({
      code: 'credits',
      message: `${OWNER} holds 50 credits of chain "shop"; this frame of 4 entries costs 120`,
    });
    book.chains.get('shop')!.frozen = true;
    expect(book.bill('shop', owner, 1, one)).toMatchObject({ code: 'busy' });
  });

  it('lets "any" account that holds the chain\'s credits write, and only those', () => {
    const { book, user } = bookWithChain(priced({ writers: 'any' }));
    expect(book.bill('shop', user, 1, spansOf([1]))).toMatchObject({ total: 0 });
    expect(book.bill('shop', { kind: 'account', account: OTHER, keyId: 'key_x' }, 1, spansOf([1]))).toMatchObject({ code: 'forbidden' });
  });

  it('charges reads per entry and keeps them for the store', () => {
    const { book, user } = bookWithChain(priced({ readPerEntry: 40, readers: 'any' }));
    const chain = book.chains.get('shop')!;
    expect(book.chargeRead(chain, user, 2)).toBeNull();
    expect(book.chargeRead(chain, user, 1)).toMatchObject({ code: 'credits', message: expect.stringMatching(/holds 20 credits.*costs 40/) });
    expect(chain.balanceOf(USER)).toBe(20);
    expect([...chain.readBurns]).toEqual([[USER, 80]]);
    expect(chain.burned).toBe(80);
  });
});
