// A local copy of everything under one etcd prefix, kept current by a watch:
// list once at a revision, then watch from the next one. Readers (the front
// door, per frame) look in the Map and never call etcd. What the copy has
// applied is exact up to `revision`.
//
// A watch can end (etcd restarts, a member dies, a partition), be compacted
// past (etcd forgot the revisions we need), or hang silently (a partition
// with no reset). The first two reconnect or list again; the third is caught
// by a check every few seconds, in one of two ways:
// - a canary (large prefixes: chains, accounts, keys): the mirror writes the
//   prefix's own key (no record's id, so never a record) and notes the
//   revision etcd gave it; a watch that has not delivered that revision by
//   the next check is replaced. One tiny write, O(1) for etcd;
// - otherwise the newest mod revision under the prefix is asked for (etcd
//   sorts the whole range to answer: fine for a few keys, not for 100,000).
// Values that do not decode are skipped and reported, never applied.
import { EtcdError, type EtcdClient, type KeyValue, type LeaseId, type Revision, type WatchEvent, type WatchHandle } from './etcd.js';
import { isInvalid, type Decoded } from './keys.js';
import { errorMessage } from '../log/index.js';

export interface MirrorEntry<T> {
  value: T;
  modRevision: Revision;
  createRevision: Revision;
  lease: LeaseId;
}

export interface MirrorListener<T> {
  put(id: string, entry: MirrorEntry<T>, previous: MirrorEntry<T> | undefined): void;
  delete(id: string, previous: MirrorEntry<T>, revision: Revision): void;
  /** A key under the prefix that is not a record, or one past the bound: skipped. */
  skipped?(key: string, why: string): void;
  /** The watch is live (true) or being re-established (false); `cause` says why. */
  sync?(synced: boolean, cause: string): void;
}

export interface MirrorOptions {
  /** The most records kept; further new ids are skipped (and reported). */
  maxEntries: number;
  /** How often the watch is checked for silence (and re-established after a failure). */
  checkEveryMs: number;
  /** Check with a canary write (the prefix's own key) rather than a sorted range: for large prefixes. */
  canary?: boolean;
}

export const DEFAULT_MIRROR_OPTIONS: MirrorOptions = { maxEntries: 1_000_000, checkEveryMs: 5_000, canary: true };

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class PrefixMirror<T> {
  readonly entries = new Map<string, MirrorEntry<T>>();
  /** Every change under the prefix up to this revision is applied. */
  revision: Revision = 0;
  private readonly client: EtcdClient;
  private readonly prefix: string;
  private readonly idOf: (key: string) => string | null;
  private readonly decode: (bytes: Buffer) => Decoded<T>;
  private readonly options: MirrorOptions;
  private listeners: MirrorListener<T>[] = [];
  private watchHandle: WatchHandle | null = null;
  private synced = false;
  private stopped = false;
  private reconnectMs = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** A newer mod revision than the watch delivered, seen at the last check. */
  private behindAt: Revision = 0;
  /** The last check could not reach etcd: the watch may be hanging on a dead connection. */
  private suspect = false;
  /** The revision of the last canary write: the watch must have delivered it by the next check. */
  private canaryAt: Revision = 0;
  private listing: Promise<void> | null = null;
  private started = false;

  constructor(
    client: EtcdClient,
    prefix: string,
    idOf: (key: string) => string | null,
    decode: (bytes: Buffer) => Decoded<T>,
    options: MirrorOptions = DEFAULT_MIRROR_OPTIONS,
  ) {
    this.client = client;
    this.prefix = prefix;
    this.idOf = idOf;
    this.decode = decode;
    this.options = options;
  }

  listen(listener: MirrorListener<T>): void {
    this.listeners.push(listener);
  }

  get isSynced(): boolean {
    return this.synced;
  }

  get(id: string): MirrorEntry<T> | undefined {
    return this.entries.get(id);
  }

  /** Lists the prefix and starts watching; throws when etcd cannot be listed (the caller decides to retry). */
  async start(): Promise<void> {
    if (this.started) return;
    await this.list();
    this.started = true;
    this.checkTimer = setInterval(() => void this.check(), this.options.checkEveryMs);
    this.checkTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watchHandle?.cancel();
    this.watchHandle = null;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.checkTimer !== null) clearInterval(this.checkTimer);
  }

  /**
   * Lists the prefix again (retrying until it can), so that `revision` reaches
   * at least etcd's revision now. A watch says nothing about revisions that
   * changed other prefixes, and etcd 3.4 sends progress notices only every ten
   * minutes: a member that rejoined at revision R lists to know it has seen R.
   */
  resync(): void {
    if (this.started && !this.stopped) this.relist();
  }

  /**
   * A change this process made itself (a transaction's outcome): applied now,
   * not when the watch brings it back. Older than what is held: ignored.
   */
  applyLocal(id: string, value: T, modRevision: Revision, createRevision: Revision, lease: LeaseId = '0'): void {
    const held = this.entries.get(id);
    if (held !== undefined && held.modRevision >= modRevision) return;
    this.set(id, { value, modRevision, createRevision, lease }, held);
  }

  /** Reads the whole prefix at one revision and brings the copy to it: differences are reported as puts and deletes. */
  private async list(): Promise<void> {
    this.listing ??= this.doList().finally(() => {
      this.listing = null;
    });
    return this.listing;
  }

  private async doList(): Promise<void> {
    const { kvs, revision } = await this.client.rangeAll(this.prefix);
    const seen = new Set<string>();
    for (const kv of kvs) {
      const id = this.accept(kv);
      if (id === null) continue;
      seen.add(id);
    }
    for (const [id, held] of [...this.entries]) {
      if (!seen.has(id) && held.modRevision <= revision) this.remove(id, revision);
    }
    this.revision = Math.max(this.revision, revision);
    this.behindAt = 0;
    this.watchFrom(revision + 1);
  }

  /** Applies one key-value from a list or a put event; returns its id, or null when skipped. */
  private accept(kv: KeyValue): string | null {
    // With canaries on, the prefix's own key is the canary (see above): never a record. (Off, it may be
    // one: the election watches a single key as its own prefix.)
    if (kv.key === this.prefix && this.options.canary === true) return null;
    const id = this.idOf(kv.key);
    if (id === null) {
      this.skip(kv.key, 'not a key this mirror knows');
      return null;
    }
    const value = this.decode(kv.value);
    if (isInvalid(value)) {
      this.skip(kv.key, value.invalid);
      return null;
    }
    const held = this.entries.get(id);
    if (held !== undefined && held.modRevision >= kv.modRevision) return id;
    if (held === undefined && this.entries.size >= this.options.maxEntries) {
      this.skip(kv.key, `more than ${this.options.maxEntries} records under ${this.prefix}`);
      return null;
    }
    this.set(id, { value, modRevision: kv.modRevision, createRevision: kv.createRevision, lease: kv.lease }, held);
    return id;
  }

  private set(id: string, entry: MirrorEntry<T>, previous: MirrorEntry<T> | undefined): void {
    this.entries.set(id, entry);
    for (const l of this.listeners) l.put(id, entry, previous);
  }

  private remove(id: string, revision: Revision): void {
    const held = this.entries.get(id);
    if (held === undefined || held.modRevision > revision) return;
    this.entries.delete(id);
    for (const l of this.listeners) l.delete(id, held, revision);
  }

  private skip(key: string, why: string): void {
    for (const l of this.listeners) l.skipped?.(key, why);
  }

  private setSynced(synced: boolean, cause: string): void {
    if (synced === this.synced) return;
    this.synced = synced;
    for (const l of this.listeners) l.sync?.(synced, cause);
  }

  private watchFrom(start: Revision): void {
    if (this.stopped) return;
    this.watchHandle?.cancel();
    this.watchHandle = this.client.watch(
      this.prefix,
      { prefix: true, startRevision: start },
      {
        created: () => this.setSynced(true, 'watching'),
        events: (events, revision) => this.onEvents(events, revision),
        compacted: (compactRevision) => {
          this.setSynced(false, `etcd compacted past revision ${this.revision + 1} (to ${compactRevision}): listing again`);
          this.watchHandle = null;
          this.relist();
        },
        ended: (error) => {
          this.watchHandle = null;
          this.setSynced(false, `watch ended: ${errorMessage(error)}`);
          this.reconnectLater();
        },
      },
    );
  }

  private onEvents(events: WatchEvent[], revision: Revision): void {
    for (const event of events) {
      if (event.type === 'put') this.accept(event.kv);
      else {
        const id = this.idOf(event.kv.key);
        if (id !== null) this.remove(id, event.kv.modRevision);
      }
      this.revision = Math.max(this.revision, event.kv.modRevision);
    }
    // A message is complete up to its header revision (progress notices carry no events).
    this.revision = Math.max(this.revision, revision);
    this.reconnectMs = RECONNECT_MIN_MS;
    this.setSynced(true, 'watching');
  }

  private reconnectLater(): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.watchFrom(this.revision + 1);
    }, this.reconnectMs);
    this.reconnectTimer.unref();
    this.reconnectMs = Math.min(RECONNECT_MAX_MS, this.reconnectMs * 2);
  }

  private relist(): void {
    if (this.stopped) return;
    this.list().catch((error: unknown) => {
      this.setSynced(false, `cannot list ${this.prefix}: ${errorMessage(error)}`);
      if (this.reconnectTimer !== null || this.stopped) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.relist();
      }, this.reconnectMs);
      this.reconnectTimer.unref();
      this.reconnectMs = Math.min(RECONNECT_MAX_MS, this.reconnectMs * 2);
    });
  }

  /**
   * The silence check. Behind at a check (or reachable again after a failed
   * one): the watch is replaced from where it stood.
   */
  private async check(): Promise<void> {
    if (this.stopped || this.listing !== null) return;
    if (this.options.canary === true) return this.checkCanary();
    let newest: Revision;
    try {
      const page = await this.client.range(this.prefix, { prefix: true, limit: 1, keysOnly: true, sortByModDesc: true });
      newest = page.kvs[0]?.modRevision ?? 0;
    } catch (error) {
      this.unreachable(error);
      return;
    }
    if (this.suspect || (this.behindAt > 0 && this.revision < this.behindAt)) return this.replaceWatch();
    this.behindAt = newest > this.revision ? newest : 0;
  }

  private async checkCanary(): Promise<void> {
    if (this.suspect || (this.canaryAt > 0 && this.revision < this.canaryAt)) this.replaceWatch();
    try {
      this.canaryAt = await this.client.put(this.prefix, String(Date.now()));
    } catch (error) {
      this.canaryAt = 0;
      this.unreachable(error);
    }
  }

  private unreachable(error: unknown): void {
    this.suspect = true;
    if (error instanceof EtcdError) this.setSynced(false, `cannot reach etcd: ${error.message}`);
  }

  private replaceWatch(): void {
    this.suspect = false;
    this.behindAt = 0;
    this.watchFrom(this.revision + 1);
  }
}
