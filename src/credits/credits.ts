// Accounts, keys, chains' owners and policies, and credits (DESIGN.md
// "Accounts, keys and credits"; docs/protocol.md §3 and §6.10–6.13): who may
// do what, and the durable writes behind it. The book (book.ts) answers from
// memory; every change other than a burn is in the store before it is answered
// or applied, and a burn is written with the block it paid for.
import type { RootDatabase } from 'lmdb';
import { ADMIN, CreditBook, CreditChain, type AccountState, type Principal } from './book.js';
import { isId, keyDigest, newId, newKey } from './keys.js';
import { FREE_POLICY, type Policy, type PolicyVersion } from './policy.js';
import type { ChainBookOf } from './travelling-book.js';
import { isRefusal, refuse, type Refusal } from './refusal.js';
import { accountRequestOr, amountRequestOr, chainRequestOr, keyRequestOr, policyRequestOr, type ChainRequest } from './requests.js';
import {
  loadCredits,
  openCreditTables,
  readChainBook,
  readHistory,
  storeAccount,
  storeAccountIfAbsent,
  storeChain,
  storeClosing,
  storeKey,
  storeMint,
  storeOpening,
  storePolicies,
  storeReadBurns,
  storeTransfer,
  type AccountRecord,
  type ChainBookRecords,
  type CreditTables,
  type HistoryRecord,
  type KeyRecord,
  type PolicyRecord,
} from './store.js';

/**
 * Where accounts and key digests are shared by a fleet of gateways (the
 * fleet's etcd directory): written there first, so a key works on every
 * gateway; each gateway's book follows it (`sharedListener`).
 */
export interface SharedAccounts {
  /** False when the id is taken already. */
  createAccount(id: string, record: AccountRecord): Promise<boolean>;
  addKey(keyId: string, record: KeyRecord): Promise<'added' | 'no-account' | 'taken'>;
  revokeKey(keyId: string, revokedAt: number): Promise<KeyRecord | null>;
}

export interface CreditsOptions {
  adminKey: string;
  /** Each chain's next seq in the ledger (0 for none): where a policy recorded past a crash really starts. */
  nextSeqOf(chain: string): number;
  /** The directory height the next seal will have: mints, transfers and read burns are filed under it. */
  nextDirectoryHeight(): number;
}

export interface AccountView {
  id: string;
  name: string;
  keys: { keyId: string; createdAt: number; revokedAt: number | null; expiresAt: number | null }[];
}

/** One row of `GET /v1/accounts`. */
export interface AccountSummary {
  id: string;
  name: string;
  createdAt: number;
  /** Keys that work now: neither revoked nor expired. */
  liveKeys: number;
}

export interface ChainCreditsView {
  name: string;
  owner: string;
  policy: Policy;
  /** The policy's version: 0 when the chain is created, +1 per change. */
  version: number;
  /** The first seq the policy prices. */
  fromSeq: number;
}

export interface HistoryHeight {
  height: number;
  mints: { to: string; amount: number; at: number }[];
  transfers: { from: string; to: string; amount: number; at: number }[];
  burns: { block: number; firstSeq: number; count: number; account: string; amount: number }[];
  reads: { account: string; amount: number; at: number }[];
  /** The chain came from (`opening`) or went to (`closing`) another gateway of a fleet, with these balances. */
  handoffs: { kind: 'opening' | 'closing'; gateway: string; atSeq: number; balances: Record<string, number>; at: number }[];
  /** Burns given back: a returning owner's truncation removed the block, never committed (docs/replicas.md part 6). */
  refunds: { block: number; firstSeq: number; count: number; account: string; amount: number; by: string; token: number; at: number }[];
}

const NOT_ADMIN_OR_SELF = 'only the admin key or a key of this account may do this';

export class Credits {
  readonly book: CreditBook;
  private readonly tables: CreditTables;
  private readonly options: CreditsOptions;
  private nextSerial: number;
  /** Mints being written, per chain: counted against the supply ceiling before they land. */
  private readonly minting = new Map<string, number>();
  /** Chain names being created. */
  private readonly creating = new Set<string>();
  private flushing: Promise<void> | null = null;
  /** A fleet's shared accounts and keys (shareWith); null on a gateway of its own. */
  private shared: SharedAccounts | null = null;

  private constructor(tables: CreditTables, book: CreditBook, nextSerial: number, options: CreditsOptions) {
    this.tables = tables;
    this.book = book;
    this.nextSerial = nextSerial;
    this.options = options;
  }

  /** Loads every account, key, chain, policy and balance from the store in `root`. */
  static async open(root: RootDatabase, options: CreditsOptions): Promise<Credits> {
    const digest = keyDigest(options.adminKey);
    if (digest === null) throw new Error('the admin key is not a chainlanes key');
    const tables = openCreditTables(root)!;
    const state = loadCredits(tables);
    const book = new CreditBook(digest);
    for (const [id, record] of state.accounts) book.addAccount(id, record);
    for (const [keyId, record] of state.keys) book.addKey(keyId, record);
    const restarts: { chain: string; version: number; record: PolicyRecord }[] = [];
    for (const [name, record] of state.chains) {
      const versions = state.policies.get(name) ?? [];
      const last = versions.at(-1);
      const latest: PolicyVersion = last === undefined ? { version: 0, fromSeq: 0, policy: FREE_POLICY } : { version: last.version, ...last.record };
      const chain = book.addChain(name, record.owner, latest);
      for (const [account, balance] of state.balances.get(name) ?? []) chain.credit(account, balance);
      const restart = restartedPolicy(latest, options.nextSeqOf(name));
      if (restart !== null) {
        restarts.push({ chain: name, version: restart.version, record: { fromSeq: restart.fromSeq, policy: restart.policy, at: Date.now() } });
        chain.apply(restart);
      }
    }
    if (restarts.length > 0) await storePolicies(tables, restarts);
    return new Credits(tables, book, state.nextSerial, options);
  }

  authenticate(key: string | null): Principal | Refusal {
    return this.book.authenticate(key);
  }

  // ---- accounts and keys

  async createAccount(principal: Principal, body: unknown): Promise<{ id: string; key: string } | Refusal> {
    if (principal.kind !== 'admin') return refuse('forbidden', 'only the admin key creates accounts');
    const request = accountRequestOr(body);
    if (isRefusal(request)) return request;
    const id = newId('acct_');
    const { keyId, key, record } = keyFor(id);
    const account = { name: request.name, createdAt: record.createdAt };
    const shared = await this.share(async (fleet) => {
      if (!(await fleet.createAccount(id, account))) throw new Error(`account id ${id} is taken in the fleet`);
      if ((await fleet.addKey(keyId, record)) !== 'added') throw new Error(`key ${keyId} could not be added to the fleet's directory`);
    });
    if (shared !== null) return shared;
    await storeAccount(this.tables, id, account, keyId, record);
    this.book.addAccount(id, account);
    this.book.addKey(keyId, record);
    return { id, key };
  }

  account(principal: Principal, id: string): AccountView | Refusal {
    const account = this.accountFor(principal, id);
    if (isRefusal(account)) return account;
    const keys = [...account.keys].map(([keyId, k]) => ({ keyId, createdAt: k.createdAt, revokedAt: k.revokedAt, expiresAt: k.expiresAt ?? null }));
    return { id, name: account.name, keys };
  }

  /** `GET /v1/accounts` (admin): every account, oldest first, a page at a time. */
  accounts(principal: Principal, from: number, limit: number): { accounts: AccountSummary[]; total: number; next: number | null } | Refusal {
    if (principal.kind !== 'admin') return refuse('forbidden', 'only the admin key lists accounts');
    const now = Date.now();
    const all = [...this.book.accounts.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const page = all.slice(from, from + limit).map((a) => ({
      id: a.id,
      name: a.name,
      createdAt: a.createdAt,
      liveKeys: [...a.keys.values()].filter((k) => k.revokedAt === null && (k.expiresAt ?? Infinity) > now).length,
    }));
    return { accounts: page, total: all.length, next: from + page.length < all.length ? from + page.length : null };
  }

  /** A new key for account `id`, optionally expiring (`{expiresAt}`): its streams are closed when it does. */
  async addKey(principal: Principal, id: string, body: unknown): Promise<{ keyId: string; key: string; expiresAt: number | null } | Refusal> {
    const account = this.accountFor(principal, id);
    if (isRefusal(account)) return account;
    const request = keyRequestOr(body, Date.now());
    if (isRefusal(request)) return request;
    const { keyId, key, record } = keyFor(id, request.expiresAt);
    const shared = await this.share(async (fleet) => {
      const added = await fleet.addKey(keyId, record);
      if (added !== 'added') throw new Error(added === 'no-account' ? `account ${id} is not in the fleet's directory` : `key id ${keyId} is taken`);
    });
    if (shared !== null) return shared;
    await storeKey(this.tables, keyId, record);
    this.book.addKey(keyId, record);
    return { keyId, key, expiresAt: request.expiresAt };
  }

  /**
   * Revokes at once: the key is refused from this call on, and `revoked` is
   * called at once too (the front door closes the streams opened with it).
   * Resolves once the revocation is durable.
   */
  async revokeKey(
    principal: Principal,
    id: string,
    keyId: string,
    revoked: (keyId: string) => void = () => undefined,
  ): Promise<{ keyId: string; revokedAt: number } | Refusal> {
    const account = this.accountFor(principal, id);
    if (isRefusal(account)) return account;
    const record = account.keys.get(keyId);
    if (record === undefined) return refuse('not_found', `account ${id} has no key ${keyId}`);
    // Asked again after a revocation the fleet did not confirm, it is sent to the fleet again.
    const revocation: KeyRecord = record.revokedAt !== null ? record : { ...record, revokedAt: Date.now() };
    if (record.revokedAt === null) {
      // Refused from now on, even while the revocation is being written: a revocation is never undone.
      this.book.revokeKey(keyId, revocation);
      revoked(keyId);
      await storeKey(this.tables, keyId, revocation);
    }
    const shared = await this.share((fleet) => fleet.revokeKey(keyId, revocation.revokedAt!));
    if (shared !== null) return refuse('busy', `key ${keyId} is revoked on this gateway, but ${shared.message}`);
    return { keyId, revokedAt: revocation.revokedAt! };
  }

  /** From now on accounts and keys are written to the fleet's directory first (the gateway joined a fleet). */
  shareWith(shared: SharedAccounts): void {
    this.shared = shared;
  }

  /** Every account and key this gateway holds, for seeding the fleet's directory when it joins. */
  accountsAndKeys(): { accounts: [string, AccountRecord][]; keys: [string, KeyRecord][] } {
    const accounts = [...this.book.accounts.values()];
    return {
      accounts: accounts.map((a) => [a.id, { name: a.name, createdAt: a.createdAt }]),
      keys: accounts.flatMap((a) => [...a.keys]),
    };
  }

  /** Runs a write to the fleet's shared directory; null when done (or no fleet), else `busy` naming why. */
  private async share(write: (fleet: SharedAccounts) => Promise<unknown>): Promise<Refusal | null> {
    const fleet = this.shared;
    if (fleet === null) return null;
    try {
      await write(fleet);
      return null;
    } catch (error) {
      return refuse(
        'busy',
        `the fleet's directory of accounts and keys (etcd) did not confirm: ${error instanceof Error ? error.message : String(error)}; retry`,
      );
    }
  }

  /**
   * What the fleet's shared directory feeds: accounts and keys made on other
   * gateways go into the book (an account is also kept in the store, which
   * must know every account it holds balances of).
   */
  sharedListener(onError: (error: unknown) => void): {
    addAccount(id: string, record: AccountRecord): void;
    addKey(keyId: string, record: KeyRecord): void;
    revokeKey(keyId: string, record: KeyRecord): void;
  } {
    return {
      addAccount: (id, record) => {
        if (this.book.accounts.has(id)) return;
        this.book.addAccount(id, record);
        storeAccountIfAbsent(this.tables, id, record).catch(onError);
      },
      addKey: (keyId, record) => this.book.addKey(keyId, record),
      revokeKey: (keyId, record) => this.book.revokeKey(keyId, record),
    };
  }

  // ---- a chain's book moving between gateways of a fleet (a handoff)

  /**
   * Stops every change to the chain's credits (frames, reads that cost,
   * mints, transfers, policies: `busy`) while it is handed off to `to`.
   */
  freezeForHandoff(name: string, to: string): void {
    const chain = this.book.chains.get(name);
    if (chain !== undefined) chain.movingTo = to;
  }

  /** The handoff did not happen: the chain's credits change again here. */
  thaw(name: string): void {
    const chain = this.book.chains.get(name);
    if (chain !== undefined) chain.movingTo = null;
  }

  /**
   * The chain's book as the store holds it, read burns written first; the
   * caller froze the chain and waited for every block to be sealed, so the
   * stored balances are the book's. Null for a chain with no owner (open mode).
   */
  async exportChain(name: string): Promise<ChainBookRecords | null> {
    await this.flushReadBurns();
    return readChainBook(this.tables, name);
  }

  /**
   * The books of those of `chains` this gateway holds, as its store has them
   * now, for the seal that carries them to the standby (docs/replicas.md
   * part 5). The store's, not the book's: burns of blocks not yet sealed are
   * not in it. Read when the seal is read for shipping, so a book can be
   * newer than its seal (a mint since); never older.
   */
  booksOf(chains: Iterable<string>): ChainBookOf[] {
    const books: ChainBookOf[] = [];
    for (const chain of new Set(chains)) {
      if (!this.book.chains.has(chain)) continue;
      const book = readChainBook(this.tables, chain);
      if (book !== null) books.push({ chain, book });
    }
    return books;
  }

  /** The chain went to `gateway` with `balances`: a closing record, and the chain leaves the book. */
  async closeChain(name: string, gateway: string, balances: Record<string, number>, atSeq: number): Promise<void> {
    await storeClosing(this.tables, this.historyWrite(name), gateway, balances, atSeq, Date.now());
    this.book.chains.delete(name);
  }

  /**
   * After a returning owner's truncation gave burns back in the store
   * (Ledger.truncateUnreplicated, docs/replicas.md part 6): each named
   * chain's balances in the book become the store's again. Only while the
   * chain has no burns that are not yet durable — a returning owner serves
   * nothing of those chains before it truncates; one with open burns is
   * refused (an Error naming it) and nothing of the book changes.
   */
  reloadBalances(names: Iterable<string>): void {
    const chains = [...names].flatMap((name) => this.book.chains.get(name) ?? []);
    const busy = chains.find((chain) => chain.openBurns.size > 0);
    if (busy !== undefined) throw new Error(`credits: chain "${busy.name}" has burns not yet sealed; its balances are reloaded only when it has none`);
    for (const chain of chains) {
      const stored = readChainBook(this.tables, chain.name)?.balances ?? {};
      for (const [account, balance] of [...chain.balances]) chain.debit(account, balance);
      chain.balances.clear();
      for (const [account, balance] of Object.entries(stored)) chain.credit(account, balance);
    }
  }

  /**
   * The chain came from `gateway` with its book: stored with an opening
   * record, and in the book. A book this store still holds for the chain (a
   * gateway that lost it without closing it, then got it back) is closed first.
   */
  async openChain(name: string, gateway: string, records: ChainBookRecords, atSeq: number): Promise<void> {
    const held = this.book.chains.get(name);
    if (held !== undefined) await this.closeChain(name, `${gateway} (stale here)`, Object.fromEntries(held.balances), atSeq);
    await storeOpening(this.tables, this.historyWrite(name), gateway, records, atSeq, Date.now());
    for (const [id, account] of Object.entries(records.accounts)) if (!this.book.accounts.has(id)) this.book.addAccount(id, account);
    const last = records.policies.reduce<{ version: number; record: PolicyRecord } | undefined>(
      (a, b) => (a === undefined || b.version > a.version ? b : a),
      undefined,
    );
    const latest: PolicyVersion = last === undefined ? { version: 0, fromSeq: 0, policy: FREE_POLICY } : { version: last.version, ...last.record };
    const chain = this.book.addChain(name, records.chain.owner, latest);
    for (const [account, balance] of Object.entries(records.balances)) chain.credit(account, balance);
  }

  private accountFor(principal: Principal, id: string): AccountState | Refusal {
    if (principal.kind === 'account' && principal.account !== id) return refuse('forbidden', NOT_ADMIN_OR_SELF);
    const account = isId('acct_', id) ? this.book.accounts.get(id) : undefined;
    return account ?? refuse('not_found', `no account ${JSON.stringify(id)}`);
  }

  // ---- chains and policies

  /** A request to create a chain, checked (who, owner, name) before the front door takes a chain slot for it. */
  chainRequest(principal: Principal, body: unknown): ChainRequest | Refusal {
    const request = chainRequestOr(body);
    if (isRefusal(request)) return request;
    if (principal.kind === 'account' && principal.account !== request.owner)
      return refuse('forbidden', 'an account creates chains it owns itself: owner must be your own account id');
    if (!this.book.accounts.has(request.owner)) return refuse('not_found', `owner: no account ${request.owner}`);
    const known = this.book.chains.get(request.name);
    if (known !== undefined) return refuse('bad_request', `name: chain "${request.name}" exists already (owned by ${known.owner})`);
    if (this.creating.has(request.name)) return refuse('bad_request', `name: chain "${request.name}" is being created by another request`);
    return request;
  }

  /**
   * Creates a checked chain request, free until its owner sets a policy.
   * `fromSeq` is the chain's next seq if the ledger has it already (a chain
   * written in open mode), else 0: the first entry the credits answer for.
   */
  async createChain(request: ChainRequest, fromSeq: number): Promise<ChainCreditsView | Refusal> {
    // Held while it is written, so two requests for one name cannot both store an owner.
    if (this.creating.has(request.name) || this.book.chains.has(request.name)) return refuse('bad_request', `name: chain "${request.name}" exists already`);
    this.creating.add(request.name);
    try {
      const version: PolicyVersion = { version: 0, fromSeq, policy: FREE_POLICY };
      const createdAt = Date.now();
      await storeChain(this.tables, request.name, { owner: request.owner, createdAt }, { version: 0, record: { fromSeq, policy: FREE_POLICY, at: createdAt } });
      this.book.addChain(request.name, request.owner, version);
      return { name: request.name, owner: request.owner, ...version };
    } finally {
      this.creating.delete(request.name);
    }
  }

  /**
   * Sets a chain's policy. Frames of the chain are refused `busy` until the
   * new version is durable, so the seq it starts at (`nextSeqOf`, read once
   * the chain is frozen) is exact: every entry before it was priced by the old
   * policy, every one after by the new.
   */
  async setPolicy(principal: Principal, name: string, body: unknown, nextSeqOf: (chain: string) => number): Promise<ChainCreditsView | Refusal> {
    const chain = this.ownedChain(principal, name, true);
    if (isRefusal(chain)) return chain;
    const policy = policyRequestOr(body);
    if (isRefusal(policy)) return policy;
    const unknown = [...listed(policy.writers, 'writers'), ...listed(policy.readers, 'readers')].find(([account]) => !this.book.accounts.has(account));
    if (unknown !== undefined) return refuse('not_found', `${unknown[1]}: no account ${unknown[0]}`);
    if (chain.frozen) return refuse('busy', `the policy of chain "${name}" is being changed by another request; retry in a moment`);
    if (chain.movingTo !== null) return movingRefusal(chain);
    chain.frozen = true;
    try {
      const version: PolicyVersion = { version: chain.version + 1, fromSeq: nextSeqOf(name), policy };
      await storePolicies(this.tables, [{ chain: name, version: version.version, record: { fromSeq: version.fromSeq, policy, at: Date.now() } }]);
      chain.apply(version);
      return { name, owner: chain.owner, ...version };
    } finally {
      chain.frozen = false;
    }
  }

  /** The chain, if `principal` owns it (or is the admin, when `adminToo`). */
  private ownedChain(principal: Principal, name: string, adminToo: boolean): CreditChain | Refusal {
    const chain = this.book.chains.get(name);
    if (chain === undefined) return refuse('not_found', `no chain "${name}"`);
    if (principal.kind === 'admin' ? !adminToo : principal.account !== chain.owner) {
      return refuse('forbidden', `only ${adminToo ? 'the admin key or ' : ''}the owner of chain "${name}" may do this`);
    }
    return chain;
  }

  // ---- credits

  async mint(principal: Principal, name: string, body: unknown): Promise<{ account: string; balance: number } | Refusal> {
    const chain = this.ownedChain(principal, name, false);
    if (isRefusal(chain)) return chain;
    const request = amountRequestOr(body);
    if (isRefusal(request)) return request;
    if (!this.book.accounts.has(request.to)) return refuse('not_found', `to: no account ${request.to}`);
    if (chain.movingTo !== null) return movingRefusal(chain);
    const minting = this.minting.get(name) ?? 0;
    if (chain.supply + minting + request.amount > Number.MAX_SAFE_INTEGER) {
      return refuse('bad_request', `amount: ${request.amount} would take the supply of chain "${name}" (${chain.supply}) past ${Number.MAX_SAFE_INTEGER}`);
    }
    this.minting.set(name, minting + request.amount);
    try {
      await storeMint(this.tables, this.historyWrite(name), request.to, request.amount, Date.now());
    } finally {
      this.minting.set(name, (this.minting.get(name) ?? 0) - request.amount);
    }
    chain.credit(request.to, request.amount);
    return { account: request.to, balance: chain.balanceOf(request.to) };
  }

  async transfer(principal: Principal, name: string, body: unknown): Promise<{ account: string; balance: number } | Refusal> {
    const chain = this.book.chains.get(name);
    if (chain === undefined) return refuse('not_found', `no chain "${name}"`);
    if (principal.kind !== 'account') return refuse('forbidden', "credits are transferred with the holder's own key");
    if (!chain.policy.transferable) return refuse('forbidden', `the credits of chain "${name}" are not transferable (its policy)`);
    if (chain.movingTo !== null) return movingRefusal(chain);
    const request = amountRequestOr(body);
    if (isRefusal(request)) return request;
    const from = principal.account;
    if (!this.book.accounts.has(request.to)) return refuse('not_found', `to: no account ${request.to}`);
    if (request.to === from) return refuse('bad_request', 'to: the account to transfer to must be another account');
    const balance = chain.balanceOf(from);
    if (request.amount > balance) return refuse('credits', `${from} holds ${balance} credits of chain "${name}", less than the ${request.amount} to transfer`);
    // Taken before the write, so frames cannot spend them meanwhile; given back if the write fails.
    chain.debit(from, request.amount);
    try {
      await storeTransfer(this.tables, this.historyWrite(name), from, request.to, request.amount, Date.now());
    } catch (error) {
      chain.credit(from, request.amount);
      throw error;
    }
    chain.credit(request.to, request.amount);
    return { account: from, balance: chain.balanceOf(from) };
  }

  balance(principal: Principal, name: string, account: string): { account: string; balance: number } | Refusal {
    const chain = this.book.chains.get(name);
    if (chain === undefined) return refuse('not_found', `no chain "${name}"`);
    const allowed = principal.kind === 'admin' || principal.account === chain.owner || principal.account === account;
    if (!allowed) return refuse('forbidden', `only the admin key, the owner of chain "${name}" or ${account} itself may see this balance`);
    if (!this.book.accounts.has(account)) return refuse('not_found', `no account ${JSON.stringify(account)}`);
    return { account, balance: chain.balanceOf(account) };
  }

  /** Mints, transfers and burns, grouped by directory height (docs/protocol.md §6.13). */
  history(principal: Principal, name: string, from: number, limit: number): { chain: string; heights: HistoryHeight[]; next: number | null } | Refusal {
    const chain = this.ownedChain(principal, name, true);
    if (isRefusal(chain)) return chain;
    // The sealer writes burns from its own thread: read from a fresh snapshot.
    this.tables.root.resetReadTxn();
    const { rows, next } = readHistory(this.tables, name, from, limit);
    const heights: HistoryHeight[] = [];
    for (const { height, record } of rows) {
      if (heights.at(-1)?.height !== height) heights.push({ height, mints: [], transfers: [], burns: [], reads: [], handoffs: [], refunds: [] });
      addToHeight(heights.at(-1)!, record);
    }
    return { chain: name, heights, next };
  }

  /** Writes the read burns gathered since the last call; one write at a time, a failed one is tried again next time. */
  flushReadBurns(): Promise<void> {
    if (this.flushing !== null) return this.flushing;
    const writes = [...this.book.chains.values()]
      .filter((c) => c.readBurns.size > 0)
      .map((chain) => {
        const burns = chain.readBurns;
        chain.readBurns = new Map();
        return { chain, burns };
      });
    if (writes.length === 0) return Promise.resolve();
    const rows = writes.map(({ chain, burns }) => ({ ...this.historyWrite(chain.name), burns }));
    this.flushing = storeReadBurns(this.tables, rows, Date.now())
      .catch((error: unknown) => {
        for (const { chain, burns } of writes)
          for (const [account, amount] of burns) chain.readBurns.set(account, (chain.readBurns.get(account) ?? 0) + amount);
        throw error;
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private historyWrite(chain: string): { chain: string; height: number; serial: number } {
    return { chain, height: this.options.nextDirectoryHeight(), serial: this.nextSerial++ };
  }
}

function movingRefusal(chain: CreditChain): Refusal {
  return refuse('busy', `chain "${chain.name}" is being handed off to gateway "${chain.movingTo}"; retry in a moment`);
}

function keyFor(account: string, expiresAt: number | null = null): { keyId: string; key: string; record: KeyRecord } {
  const key = newKey();
  const record: KeyRecord = { account, digest: keyDigest(key)!.toString('hex'), createdAt: Date.now(), revokedAt: null, expiresAt };
  return { keyId: newId('key_'), key, record };
}

function listed(audience: Policy['writers'], field: string): [string, string][] {
  return typeof audience === 'string' ? [] : audience.map((account, i) => [account, `${field}[${i}]`]);
}

/**
 * After a crash, a policy version may start past the chain's last committed
 * entry (entries priced by the old policy were lost). It is recorded again
 * from the seq the chain really continues at; null when nothing is needed.
 */
function restartedPolicy(latest: PolicyVersion, nextSeq: number): PolicyVersion | null {
  if (latest.fromSeq <= nextSeq) return null;
  return { version: latest.version + 1, fromSeq: nextSeq, policy: latest.policy };
}

function addToHeight(height: HistoryHeight, record: HistoryRecord): void {
  switch (record.kind) {
    case 'mint':
      height.mints.push({ to: record.to, amount: record.amount, at: record.at });
      break;
    case 'transfer':
      height.transfers.push({ from: record.from, to: record.to, amount: record.amount, at: record.at });
      break;
    case 'burn':
      for (const [account, amount] of Object.entries(record.burns)) {
        height.burns.push({ block: record.block, firstSeq: record.firstSeq, count: record.count, account, amount });
      }
      break;
    case 'read':
      for (const [account, amount] of Object.entries(record.burns)) height.reads.push({ account, amount, at: record.at });
      break;
    case 'opening':
    case 'closing':
      height.handoffs.push({ kind: record.kind, gateway: record.gateway, atSeq: record.atSeq, balances: record.balances, at: record.at });
      break;
    case 'refund':
      for (const [account, amount] of Object.entries(record.burns)) {
        height.refunds.push({
          block: record.block,
          firstSeq: record.firstSeq,
          count: record.count,
          account,
          amount,
          by: record.by,
          token: record.token,
          at: record.at,
        });
      }
      break;
  }
}

export { ADMIN };
