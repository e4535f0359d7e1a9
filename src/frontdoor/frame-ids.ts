// Client frame ids (`producer`, `n`) and the window of recent ones per chain
// (docs/protocol.md 4.2 and 4.8, docs/replicas.md part 7): a frame sent again
// with an id the window still holds is answered with its original `accepted`
// instead of being written twice.
//
// Bounds: at most `perChain` ids per chain (its oldest goes first) and at most
// `maxBytes` in all, each id counted as RECORD_OVERHEAD_BYTES plus its hashes
// while it holds them. Past `maxBytes` the oldest id of all that holds hashes
// gives them up if its entries are durable (it is *stripped*: a repeat of it
// is answered with hashes read back from the store, `Admission` and the
// reader threads), else the oldest stripped id goes, else the oldest of all.
// Every step is O(1): two insertion-ordered Maps over every chain (ids with
// hashes, stripped ids: each one's first is its oldest), and a doubly-linked
// list per chain (its head is the chain's oldest).
// Only frames with an id allocate anything here.
//
// Persistence (docs/replicas.md part 7): each admitted id also waits here
// until its frame's first block is cut, then rides with that block to the
// sealer (CutBlock.frameIds) and is written in the block's seal transaction
// (`ledger.frameIds`). The cut message, not the lane ring record, carries
// it: the ring record is written for every frame and read by the lanes, who
// have no use for an id, so a field there would cost every frame bytes; the
// cut already carries each block's side facts (its burns), so a frame
// without an id costs nothing here. A restarted gateway, or a standby that
// took the chain over, rebuilds the window from those rows (`restore`).
import { HASH_BYTES, type FrameId } from '../protocol/index.js';
import type { RecentFrameId, StoredFrameId } from '../ledger/index.js';

/**
 * What one remembered id costs besides its hashes, a deliberate overestimate
 * (the record object, its key string, the Map's entry), so that `maxBytes`
 * bounds the heap the window holds.
 */
export const RECORD_OVERHEAD_BYTES = 256;

/** One remembered frame: where its entries went, and once hashed, their hashes. */
export class RememberedFrame {
  /** null until the frame is hashed (in flight): a repeat then gets `busy`. */
  hashes: Buffer | null = null;
  /** False once evicted: a late `hashed` then keeps nothing. */
  live = true;
  /** Its hashes were given up for the byte bound once its entries were durable: a repeat reads them from the store. */
  stripped = false;
  /** What the window counts for it: RECORD_OVERHEAD_BYTES, plus its hashes (reserved when remembered) until stripped. */
  bytes: number;
  prev: RememberedFrame | null = null;
  next: RememberedFrame | null = null;

  constructor(
    readonly window: FrameIdWindow,
    readonly key: string,
    readonly slot: number,
    readonly id: FrameId,
    readonly seq: number,
    readonly count: number,
  ) {
    this.bytes = RECORD_OVERHEAD_BYTES + count * HASH_BYTES;
  }

  /** The frame is hashed: its hashes are `src[at … at + count × 32)` (the lane ring: copied out now). */
  hashed(src: Uint8Array, at: number): void {
    if (!this.live || this.stripped) return;
    this.hashes = Buffer.from(src.subarray(at, at + this.count * HASH_BYTES));
  }
}

/** A chain's remembered ids, oldest first. */
interface ChainIds {
  head: RememberedFrame | null;
  tail: RememberedFrame | null;
  size: number;
}

export interface FrameIdLimits {
  /** Ids remembered per chain (limits.frameIdWindow). */
  perChain: number;
  /** Bytes remembered in all (limits.maxFrameIdBytes). */
  maxBytes: number;
}

export interface FrameIdStats {
  remembered: number;
  bytes: number;
  repeats: number;
  evicted: number;
  /** Ids whose hashes were given up for the byte bound (their entries durable): kept without them. */
  stripped: number;
  /** Repeats of stripped ids, answered with hashes read from the store. */
  repeatsFromStore: number;
}

export class FrameIdWindow {
  readonly stats: FrameIdStats = { remembered: 0, bytes: 0, repeats: 0, evicted: 0, stripped: 0, repeatsFromStore: 0 };
  /** Every remembered id, by key. */
  private readonly all = new Map<string, RememberedFrame>();
  /** The ids not stripped, in the order remembered: the first is the oldest of them. */
  private readonly withHashes = new Set<RememberedFrame>();
  /** The stripped ids, in the order stripped. */
  private readonly strippedOnes = new Set<RememberedFrame>();
  private readonly chains = new Map<number, ChainIds>();
  /** Per chain slot, the ids admitted whose first block is not cut yet, in seq order: one interval's frames at most. */
  private readonly uncut = new Map<number, StoredFrameId[]>();

  /** `durableUpTo(slot)`: the chain's committed seq (entries below it are durable); without it no id is stripped. */
  constructor(
    private readonly limits: FrameIdLimits,
    private readonly durableUpTo: (slot: number) => number = () => 0,
  ) {}

  /**
   * Remembers an admitted frame's id (`keep`) and holds it for the seal of
   * the block its first seq is cut into (`takeForBlock`).
   */
  remember(slot: number, id: FrameId, seq: number, count: number): RememberedFrame | null {
    const ids = this.uncut.get(slot);
    const stored = { seq, producer: id.producer, n: id.n, count };
    if (ids === undefined) this.uncut.set(slot, [stored]);
    else ids.push(stored);
    return this.keep(slot, id, seq, count);
  }

  /** The ids whose first seq is before `endSeq` on the chain in `slot` (a block cut there), taken; undefined when none. */
  takeForBlock(slot: number, endSeq: number): StoredFrameId[] | undefined {
    const ids = this.uncut.get(slot);
    if (ids === undefined || ids[0]!.seq >= endSeq) return undefined;
    const cut = ids.findIndex((id) => id.seq >= endSeq);
    if (cut < 0) {
      this.uncut.delete(slot);
      return ids;
    }
    return ids.splice(0, cut);
  }

  /**
   * Rebuilds every chain's window from the store at start: `read` is
   * Ledger.recentFrameIds. The hashes read are bounded by `maxBytes` in all
   * (what the window would evict at once is not read).
   */
  restoreChains(chains: readonly { slot: number; name: string }[], read: (chain: string, limit: number, maxBytes: number) => readonly RecentFrameId[]): void {
    let left = this.limits.maxBytes;
    for (const chain of chains) {
      if (left <= 0) return;
      const ids = read(chain.name, this.limits.perChain, left);
      this.restore(chain.slot, ids);
      for (const id of ids) left -= id.hashes.length;
    }
  }

  /**
   * Rebuilds the chain in `slot`'s window from its stored ids (oldest first,
   * with their hashes: Ledger.recentFrameIds), at start or at a takeover.
   */
  restore(slot: number, ids: readonly RecentFrameId[]): void {
    for (const id of ids) this.keep(slot, { producer: id.producer, n: id.n }, id.seq, id.count)?.hashed(id.hashes, 0);
  }

  /**
   * A truncation took the chain in `slot` back to `seq`: the ids of frames
   * at or after it named entries that are gone, so a repeat of one is written
   * again, not answered from the window.
   */
  forgetFrom(slot: number, seq: number): void {
    for (let record = this.chains.get(slot)?.tail ?? null; record !== null && record.seq >= seq;) {
      const before: RememberedFrame | null = record.prev;
      this.forget(record);
      record = before;
    }
    const uncut = this.uncut.get(slot)?.filter((id) => id.seq < seq);
    if (uncut === undefined || uncut.length === 0) this.uncut.delete(slot);
    else this.uncut.set(slot, uncut);
  }

  /** The remembered frame with this id on the chain in `slot`, if the window still holds it. */
  find(slot: number, id: FrameId): RememberedFrame | undefined {
    return this.all.get(keyOf(slot, id));
  }

  /**
   * Remembers an id, evicting the chain's oldest past `perChain` and the
   * oldest of all past `maxBytes`. Returns null when the frame alone is
   * larger than `maxBytes` (it is admitted, not remembered).
   */
  private keep(slot: number, id: FrameId, seq: number, count: number): RememberedFrame | null {
    const key = keyOf(slot, id);
    const record = new RememberedFrame(this, key, slot, id, seq, count);
    if (record.bytes > this.limits.maxBytes) return null;
    this.forget(this.all.get(key));
    let chain = this.chains.get(slot);
    if (chain === undefined) {
      chain = { head: null, tail: null, size: 0 };
      this.chains.set(slot, chain);
    }
    if (chain.size >= this.limits.perChain) this.evict(chain.head);
    while (this.stats.bytes + record.bytes > this.limits.maxBytes) this.makeRoom();
    // The chain's entry may have gone with its last id above.
    chain = this.chains.get(slot) ?? { head: null, tail: null, size: 0 };
    this.chains.set(slot, chain);
    record.prev = chain.tail;
    if (chain.tail === null) chain.head = record;
    else chain.tail.next = record;
    chain.tail = record;
    chain.size++;
    this.all.set(key, record);
    this.withHashes.add(record);
    this.stats.remembered++;
    this.stats.bytes += record.bytes;
    return record;
  }

  /** Ids remembered for the chain in `slot`. */
  sizeOf(slot: number): number {
    return this.chains.get(slot)?.size ?? 0;
  }

  get size(): number {
    return this.all.size;
  }

  /** One step towards the byte bound: the oldest id with hashes strips them if its entries are durable, else an id goes. */
  private makeRoom(): void {
    const oldest = this.withHashes.values().next().value;
    if (oldest !== undefined && oldest.hashes !== null && oldest.seq + oldest.count <= this.durableUpTo(oldest.slot)) return this.strip(oldest);
    this.evict(this.strippedOnes.values().next().value ?? oldest);
  }

  private strip(record: RememberedFrame): void {
    record.hashes = null;
    record.stripped = true;
    this.stats.bytes -= record.count * HASH_BYTES;
    record.bytes = RECORD_OVERHEAD_BYTES;
    this.withHashes.delete(record);
    this.strippedOnes.add(record);
    this.stats.stripped++;
  }

  private evict(record: RememberedFrame | null | undefined): void {
    if (record === null || record === undefined) return;
    this.forget(record);
    this.stats.evicted++;
  }

  private forget(record: RememberedFrame | undefined): void {
    if (record === undefined || !record.live) return;
    record.live = false;
    record.hashes = null;
    this.all.delete(record.key);
    this.withHashes.delete(record);
    this.strippedOnes.delete(record);
    this.stats.remembered--;
    this.stats.bytes -= record.bytes;
    const chain = this.chains.get(record.slot)!;
    if (record.prev === null) chain.head = record.next;
    else record.prev.next = record.next;
    if (record.next === null) chain.tail = record.prev;
    else record.next.prev = record.prev;
    record.prev = record.next = null;
    if (--chain.size === 0) this.chains.delete(record.slot);
  }
}

function keyOf(slot: number, id: FrameId): string {
  return `${slot}:${id.producer}:${id.n}`;
}
