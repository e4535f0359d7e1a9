// The front door's book of credits: accounts, key digests, chains with their
// owner and policy, and every spendable balance, in memory. The front door is
// one thread, so checking a frame's cost against a balance and debiting it is
// one synchronous step: two connections of one account can never both spend
// the same credit, and no frame waits for the store. The store learns a
// block's burns when the block is sealed (the cut carries them).
import { keyDigest, sameDigest } from './keys.js';
import { FREE_POLICY, spanCost, type Audience, type Policy, type PolicyVersion } from './policy.js';
import { refuse, type Refusal } from './refusal.js';
import type { AccountRecord, KeyRecord } from './store.js';

/** Who presented a key: the operator, or an account through one of its keys. */
export type Principal = { kind: 'admin' } | { kind: 'account'; account: string; keyId: string };

export const ADMIN: Principal = Object.freeze({ kind: 'admin' });

/** A compiled audience: membership in O(1) on the hot path. */
type Members = 'owner' | 'any' | ReadonlySet<string>;

function members(audience: Audience): Members {
  return typeof audience === 'string' ? audience : new Set(audience);
}

export class CreditChain {
  readonly name: string;
  readonly owner: string;
  policy: Policy = FREE_POLICY;
  /** The latest policy version; versions are numbered from 0 per chain. */
  version = 0;
  private writers: Members = 'owner';
  private readers: Members = 'owner';
  /** Spendable balances: durable ones minus burns not yet sealed. */
  readonly balances = new Map<string, number>();
  /** The sum of the balances (kept below 2^53, so every total the check adds up is exact). */
  supply = 0;
  /** Set while a policy change is being made durable: frames are refused `busy` meanwhile. */
  frozen = false;
  /** The gateway of a fleet the chain is being handed off to: nothing changes its credits meanwhile (`busy`). */
  movingTo: string | null = null;
  /** Burns of entries in blocks not yet handed to the sealer: block's first seq → account → credits. */
  readonly openBurns = new Map<number, Map<string, number>>();
  /** Read burns not yet written to the store: account → credits. */
  readBurns = new Map<string, number>();
  /**
   * Credits burned over the gateway's life (the dashboard's credits per minute):
   * a block's write burns when the block is cut, reads when charged — counted
   * per block and per read request, never per frame.
   */
  burned = 0;

  constructor(name: string, owner: string) {
    this.name = name;
    this.owner = owner;
  }

  apply(version: PolicyVersion): void {
    this.version = version.version;
    this.policy = version.policy;
    this.writers = members(version.policy.writers);
    this.readers = members(version.policy.readers);
  }

  /** Whether `account` holds this chain's credits (was ever given some; "any" counts those). */
  holds(account: string): boolean {
    return this.balances.has(account);
  }

  mayWrite(account: string): boolean {
    return this.admits(this.writers, account);
  }

  mayRead(account: string): boolean {
    return this.admits(this.readers, account);
  }

  balanceOf(account: string): number {
    return this.balances.get(account) ?? 0;
  }

  /** Adds credits that are durable already (a mint or a transfer in). */
  credit(account: string, amount: number): void {
    this.balances.set(account, this.balanceOf(account) + amount);
    this.supply += amount;
  }

  /** Takes credits the caller checked are there. */
  debit(account: string, amount: number): void {
    this.balances.set(account, this.balanceOf(account) - amount);
    this.supply -= amount;
  }

  private admits(audience: Members, account: string): boolean {
    if (account === this.owner) return true;
    if (audience === 'owner') return false;
    if (audience === 'any') return this.holds(account);
    return audience.has(account);
  }
}

/** A frame's cost, checked against its payer's balance and not yet debited. */
export class Bill {
  constructor(
    readonly chain: CreditChain,
    readonly account: string,
    readonly count: number,
    readonly total: number,
    /** FrameReader's spans of this frame: valid only during its admission. */
    readonly spans: Int32Array,
  ) {}
}

export interface AccountState {
  id: string;
  name: string;
  createdAt: number;
  keys: Map<string, KeyRecord>;
}

export class CreditBook {
  readonly accounts = new Map<string, AccountState>();
  readonly chains = new Map<string, CreditChain>();
  /** Live keys only: SHA-256 digest (latin1 string) → who holds it, and until when (Infinity: no expiry). */
  private readonly byDigest = new Map<string, { digest: Buffer; principal: Principal; expiresAt: number }>();

  /** Live keys that expire: keyId → when (ms since the epoch). */
  private readonly expiring = new Map<string, number>();

  constructor(adminDigest: Buffer) {
    this.byDigest.set(adminDigest.toString('latin1'), { digest: adminDigest, principal: ADMIN, expiresAt: Infinity });
  }

  /**
   * Who `key` belongs to. The checksum is checked first, so a mistyped or
   * made-up key costs a few string operations; a well-formed one costs one
   * SHA-256 and one Map lookup, then a constant-time comparison of digests.
   */
  authenticate(key: string | null): Principal | Refusal {
    if (key === null || key === '') return refuse('unauthenticated', 'no key: send "Authorization: Bearer KEY" (or ?key=KEY on a WebSocket URL)');
    const digest = keyDigest(key);
    if (digest === null)
      return refuse('unauthenticated', 'malformed key: a chainlanes key is clk_ and 36 characters ending in a checksum; check it was copied whole');
    const found = this.byDigest.get(digest.toString('latin1'));
    if (found === undefined || !sameDigest(found.digest, digest)) return refuse('unauthenticated', 'unknown or revoked key');
    if (Date.now() >= found.expiresAt) return refuse('unauthenticated', `the key expired at ${new Date(found.expiresAt).toISOString()}`);
    return found.principal;
  }

  addAccount(id: string, record: AccountRecord): AccountState {
    const account: AccountState = { id, name: record.name, createdAt: record.createdAt, keys: new Map() };
    this.accounts.set(id, account);
    return account;
  }

  addKey(keyId: string, record: KeyRecord): void {
    this.accounts.get(record.account)?.keys.set(keyId, record);
    if (record.revokedAt !== null) return;
    if (record.expiresAt != null) this.expiring.set(keyId, record.expiresAt);
    const digest = Buffer.from(record.digest, 'hex');
    this.byDigest.set(digest.toString('latin1'), {
      digest,
      principal: { kind: 'account', account: record.account, keyId },
      expiresAt: record.expiresAt ?? Infinity,
    });
  }

  revokeKey(keyId: string, record: KeyRecord): void {
    this.expiring.delete(keyId);
    this.accounts.get(record.account)?.keys.set(keyId, record);
    this.byDigest.delete(Buffer.from(record.digest, 'hex').toString('latin1'));
  }

  /**
   * Keys whose expiry has passed since the last call (each returned once):
   * the front door closes their streams, since a key is checked when a stream
   * opens, not per frame. Expired keys are refused by `authenticate` anyway.
   */
  expiredKeys(now: number): string[] {
    const expired: string[] = [];
    for (const [keyId, expiresAt] of this.expiring) {
      if (expiresAt > now) continue;
      expired.push(keyId);
      this.expiring.delete(keyId);
    }
    return expired;
  }

  addChain(name: string, owner: string, latest: PolicyVersion): CreditChain {
    const chain = new CreditChain(name, owner);
    chain.apply(latest);
    this.chains.set(name, chain);
    return chain;
  }

  /** A writer's frame of `count` entries (lengths in `spans`) on `chainName`: its bill, or why not. Changes nothing. */
  bill(chainName: string, principal: Principal, count: number, spans: Int32Array): Bill | Refusal {
    const chain = this.writable(chainName, principal);
    if (!(chain instanceof CreditChain)) return chain;
    if (chain.frozen) return refuse('busy', `the policy of chain "${chainName}" is being changed; retry in a moment`);
    if (chain.movingTo !== null) return refuse('busy', `chain "${chainName}" is being handed off to gateway "${chain.movingTo}"; retry in a moment`);
    const account = (principal as { account: string }).account;
    const total = spanCost(chain.policy, spans, 0, count);
    const balance = chain.balanceOf(account);
    if (total > balance) {
      return refuse('credits', `${account} holds ${balance} credits of chain "${chainName}"; this frame of ${count} entries costs ${total}`);
    }
    return new Bill(chain, account, count, total, spans);
  }

  /** The chain `principal` may write to, or why not (the stream's upgrade asks this before each frame does). */
  writable(chainName: string, principal: Principal): CreditChain | Refusal {
    const chain = this.chains.get(chainName);
    if (chain === undefined) return refuse('unknown_chain', `no chain "${chainName}": create it with POST /v1/chains`);
    if (principal.kind === 'admin') return refuse('forbidden', 'the admin key manages accounts and chains; write with an account key');
    if (!chain.mayWrite(principal.account)) return refuse('forbidden', `${principal.account} may not write to chain "${chainName}" (its policy's writers)`);
    return chain;
  }

  /** The chain `principal` may read, or why not. */
  /**
   * Which chains `principal` sees in listings (GET /v1/chains, /v1/lanes, the
   * dashboard): the admin all, an account the chains it owns. A chain's name
   * and traffic are its owner's business.
   */
  listedFor(principal: Principal): (chainName: string) => boolean {
    if (principal.kind === 'admin') return () => true;
    return (chainName) => this.chains.get(chainName)?.owner === principal.account;
  }

  /** Whether `principal` may see one chain's state (GET /v1/chains/{name}): the admin, its owner, and its writers and readers. */
  mayInspect(chainName: string, principal: Principal): boolean {
    if (principal.kind === 'admin') return true;
    const chain = this.chains.get(chainName);
    if (chain === undefined) return false;
    return chain.owner === principal.account || chain.mayWrite(principal.account) || chain.mayRead(principal.account);
  }

  readable(chainName: string, principal: Principal): CreditChain | Refusal {
    const chain = this.chains.get(chainName);
    if (chain === undefined) return refuse('unknown_chain', `no chain "${chainName}"`);
    if (principal.kind === 'admin') return refuse('forbidden', 'the admin key manages accounts and chains; read with an account key');
    if (!chain.mayRead(principal.account)) return refuse('forbidden', `${principal.account} may not read chain "${chainName}" (its policy's readers)`);
    return chain;
  }

  /**
   * Debits entries [from, to) of a billed frame, which the front door put in
   * the chain's block starting at `blockFirstSeq`, and remembers the burn
   * with that block. Called once per block the frame's entries fell into.
   */
  burn(bill: Bill, blockFirstSeq: number, from: number, to: number): void {
    const whole = from === 0 && to === bill.count;
    const amount = whole ? bill.total : spanCost(bill.chain.policy, bill.spans, from, to);
    if (amount === 0) return;
    const chain = bill.chain;
    chain.debit(bill.account, amount);
    let block = chain.openBurns.get(blockFirstSeq);
    if (block === undefined) {
      block = new Map();
      chain.openBurns.set(blockFirstSeq, block);
    }
    block.set(bill.account, (block.get(bill.account) ?? 0) + amount);
  }

  /** The burns of the block starting at `firstSeq`, aggregated by account, once: the cut carries them to the sealer. */
  takeBurns(chainName: string, firstSeq: number): [string, number][] | undefined {
    const chain = this.chains.get(chainName);
    const block = chain?.openBurns.get(firstSeq);
    if (block === undefined) return undefined;
    chain!.openBurns.delete(firstSeq);
    for (const amount of block.values()) chain!.burned += amount;
    return [...block];
  }

  /** Charges a read of `entries` entries at the chain's readPerEntry, or says the balance is short. */
  chargeRead(chain: CreditChain, principal: Principal, entries: number): Refusal | null {
    if (principal.kind !== 'account') return refuse('forbidden', 'reads are charged to an account');
    const cost = chain.policy.readPerEntry * entries;
    if (cost === 0) return null;
    // Its balances are in the handoff's head already: a read charged now would be lost with the move.
    if (chain.movingTo !== null) return refuse('busy', `chain "${chain.name}" is being handed off to gateway "${chain.movingTo}"; retry in a moment`);
    const balance = chain.balanceOf(principal.account);
    if (cost > balance) {
      return refuse('credits', `${principal.account} holds ${balance} credits of chain "${chain.name}"; reading ${entries} entries costs ${cost}`);
    }
    chain.debit(principal.account, cost);
    chain.burned += cost;
    chain.readBurns.set(principal.account, (chain.readBurns.get(principal.account) ?? 0) + cost);
    return null;
  }
}
