// Accounts and keys fleet-wide (DESIGN.md "Fleet": `accounts/…`, `keys/…`):
// a key made on one gateway works on every gateway. etcd holds the same
// records the credit store holds locally (src/credits/store.ts): an account
// `{name, createdAt}` and a key `{account, digest, createdAt, revokedAt}`,
// never a key itself. Every gateway watches both prefixes into its credit
// book (`follow(book)`: addAccount, addKey, revokeKey are CreditBook's own
// methods), so authentication stays a Map lookup with no etcd call. Writes
// are conditional: an account is created if absent, a key only for an
// account that exists, a revocation only on the key as it was read.
// Chains' owners, policies and balances are not here: they travel with the
// chain (the handoff's head).
import { isId, type AccountRecord, type KeyRecord } from '../credits/index.js';
import { cmp, type EtcdClient, type Txn } from './etcd.js';
import { encode, isInvalid, jsonObjectOf, type Decoded, type FleetKeys } from './keys.js';
import { DEFAULT_MIRROR_OPTIONS, PrefixMirror, type MirrorOptions } from './mirror.js';

const time = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export function decodeAccount(bytes: Buffer): Decoded<AccountRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string' || typeof v.name !== 'string' || v.name.length > 256 || !time(v.createdAt))
    return { invalid: '{name (at most 256 characters), createdAt}' };
  return { name: v.name, createdAt: v.createdAt };
}

export function decodeKey(bytes: Buffer): Decoded<KeyRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string' || typeof v.account !== 'string' || !isId('acct_', v.account)) return { invalid: 'account: an account id' };
  if (typeof v.digest !== 'string' || !/^[0-9a-f]{64}$/.test(v.digest)) return { invalid: 'digest: 64 hex digits (SHA-256 of the key)' };
  if (!time(v.createdAt) || !(v.revokedAt === null || time(v.revokedAt))) return { invalid: 'createdAt, revokedAt (ms, or null)' };
  return { account: v.account, digest: v.digest, createdAt: v.createdAt, revokedAt: v.revokedAt };
}

/** What the directory feeds: CreditBook has exactly these methods. */
export interface DirectoryListener {
  addAccount(id: string, record: AccountRecord): unknown;
  addKey(keyId: string, record: KeyRecord): void;
  revokeKey(keyId: string, record: KeyRecord): void;
}

/** Records per seeding transaction (each a create-if-absent sub-transaction). */
const SEED_BATCH = 100;

export class FleetDirectory {
  readonly accounts: PrefixMirror<AccountRecord>;
  readonly keys: PrefixMirror<KeyRecord>;

  constructor(
    private readonly client: EtcdClient,
    private readonly fleetKeys: FleetKeys,
    options: MirrorOptions = DEFAULT_MIRROR_OPTIONS,
  ) {
    this.accounts = new PrefixMirror(client, fleetKeys.accounts, (key) => idOf(key, fleetKeys.accounts, 'acct_'), decodeAccount, options);
    this.keys = new PrefixMirror(client, fleetKeys.keys, (key) => idOf(key, fleetKeys.keys, 'key_'), decodeKey, options);
  }

  /**
   * Feeds `book` with every account and key, now and as they change. Accounts
   * first: a key names its account, and the book files it under it.
   */
  follow(book: DirectoryListener): void {
    const fileKey = (keyId: string, record: KeyRecord): void => (record.revokedAt === null ? book.addKey(keyId, record) : book.revokeKey(keyId, record));
    this.accounts.listen({
      put: (id, entry) => {
        book.addAccount(id, entry.value);
        // The two prefixes are two watches: a key may have come before its account. File it again under it.
        for (const [keyId, key] of this.keys.entries) if (key.value.account === id) fileKey(keyId, key.value);
      },
      delete: () => undefined,
    });
    this.keys.listen({
      put: (keyId, entry) => fileKey(keyId, entry.value),
      // A deleted key record is a revoked key: nobody may authenticate with it any more.
      delete: (keyId, previous) => book.revokeKey(keyId, { ...previous.value, revokedAt: previous.value.revokedAt ?? Date.now() }),
    });
  }

  async start(): Promise<void> {
    await this.accounts.start();
    await this.keys.start();
  }

  stop(): void {
    this.accounts.stop();
    this.keys.stop();
  }

  /** Creates an account if its id is free; false when the id was taken. */
  async createAccount(id: string, record: AccountRecord): Promise<boolean> {
    const key = this.fleetKeys.account(id);
    const result = await this.client.txn({ compare: [cmp.version(key, '=', 0)], success: [{ put: { key, value: encode(record) } }], failure: [] });
    if (result.succeeded) this.accounts.applyLocal(id, record, result.revision, result.revision);
    return result.succeeded;
  }

  /** Adds a key (by its digest) to an account that exists; says why not otherwise. */
  async addKey(keyId: string, record: KeyRecord): Promise<'added' | 'no-account' | 'taken'> {
    const key = this.fleetKeys.key(keyId);
    const account = this.fleetKeys.account(record.account);
    const result = await this.client.txn({
      compare: [cmp.version(account, '>', 0), cmp.version(key, '=', 0)],
      success: [{ put: { key, value: encode(record) } }],
      failure: [{ range: { key: account } }],
    });
    if (result.succeeded) {
      this.keys.applyLocal(keyId, record, result.revision, result.revision);
      return 'added';
    }
    const found = result.responses[0]?.kind === 'range' && result.responses[0].range.kvs.length > 0;
    return found ? 'taken' : 'no-account';
  }

  /** Revokes a key at once on every gateway (each drops it when its watch brings the change). */
  async revokeKey(keyId: string, revokedAt: number): Promise<KeyRecord | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const held = (await this.client.range(this.fleetKeys.key(keyId))).kvs[0];
      if (held === undefined) return null;
      const record = decodeKey(held.value);
      if (isInvalid(record)) return null;
      if (record.revokedAt !== null) return record;
      const revoked = { ...record, revokedAt };
      const result = await this.client.txn({
        compare: [cmp.mod(held.key, '=', held.modRevision)],
        success: [{ put: { key: held.key, value: encode(revoked) } }],
        failure: [],
      });
      if (result.succeeded) {
        this.keys.applyLocal(keyId, revoked, result.revision, held.createRevision);
        return revoked;
      }
    }
    throw new Error(`key ${keyId} kept changing while being revoked`);
  }

  /**
   * Writes what a gateway had on its own before it joined (its credit store's
   * accounts and keys), each only if absent: one transaction per SEED_BATCH
   * records. Returns how many were new to the fleet.
   */
  async seed(accounts: Iterable<[string, AccountRecord]>, keys: Iterable<[string, KeyRecord]>): Promise<number> {
    const puts: [string, string][] = [];
    for (const [id, record] of accounts) puts.push([this.fleetKeys.account(id), encode(record)]);
    for (const [keyId, record] of keys) puts.push([this.fleetKeys.key(keyId), encode(record)]);
    let created = 0;
    for (let i = 0; i < puts.length; i += SEED_BATCH) {
      const txn: Txn = {
        compare: [],
        success: puts
          .slice(i, i + SEED_BATCH)
          .map(([key, value]) => ({ txn: { compare: [cmp.version(key, '=', 0)], success: [{ put: { key, value } }], failure: [] } })),
        failure: [],
      };
      const result = await this.client.txn(txn);
      created += result.responses.filter((r) => r.kind === 'txn' && r.txn.succeeded).length;
    }
    return created;
  }
}

function idOf(key: string, prefix: string, kind: 'acct_' | 'key_'): string | null {
  if (!key.startsWith(prefix)) return null;
  const id = key.slice(prefix.length);
  return isId(kind, id) ? id : null;
}
