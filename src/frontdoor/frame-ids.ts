// Client frame ids (`producer`, `n`) and the window of recent ones per chain
// (docs/protocol.md 4.2 and 4.8, docs/replicas.md part 7): a frame sent again
// with an id the window still holds is answered with its original `accepted`
// instead of being written twice.
//
// Bounds: at most `perChain` ids per chain (its oldest goes first) and at most
// `maxBytes` in all (the oldest of all goes first), each id counted as
// RECORD_OVERHEAD_BYTES plus its hashes. Both evictions are O(1): one
// insertion-ordered Map over every chain (its first key is the oldest of all)
// and a doubly-linked list per chain (its head is the chain's oldest).
// Only frames with an id allocate anything here.
import { HASH_BYTES, type FrameId } from '../protocol/index.js';

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
  prev: RememberedFrame | null = null;
  next: RememberedFrame | null = null;

  constructor(
    readonly window: FrameIdWindow,
    readonly key: string,
    readonly slot: number,
    readonly id: FrameId,
    readonly seq: number,
    readonly count: number,
  ) {}

  /** What the window counts for it, from the start (its hashes are reserved when it is remembered). */
  get bytes(): number {
    return RECORD_OVERHEAD_BYTES + this.count * HASH_BYTES;
  }

  /** The frame is hashed: its hashes are `src[at … at + count × 32)` (the lane ring: copied out now). */
  hashed(src: Uint8Array, at: number): void {
    if (!this.live) return;
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
}

export class FrameIdWindow {
  readonly stats: FrameIdStats = { remembered: 0, bytes: 0, repeats: 0, evicted: 0 };
  /** Every remembered id, in the order remembered: the first is the oldest of all. */
  private readonly all = new Map<string, RememberedFrame>();
  private readonly chains = new Map<number, ChainIds>();

  constructor(private readonly limits: FrameIdLimits) {}

  /** The remembered frame with this id on the chain in `slot`, if the window still holds it. */
  find(slot: number, id: FrameId): RememberedFrame | undefined {
    return this.all.get(keyOf(slot, id));
  }

  /**
   * Remembers an admitted frame's id, evicting the chain's oldest past
   * `perChain` and the oldest of all past `maxBytes`. Returns null when the
   * frame alone is larger than `maxBytes` (it is admitted, not remembered).
   */
  remember(slot: number, id: FrameId, seq: number, count: number): RememberedFrame | null {
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
    while (this.stats.bytes + record.bytes > this.limits.maxBytes) this.evict(this.all.values().next().value);
    // The chain's entry may have gone with its last id above.
    chain = this.chains.get(slot) ?? { head: null, tail: null, size: 0 };
    this.chains.set(slot, chain);
    record.prev = chain.tail;
    if (chain.tail === null) chain.head = record;
    else chain.tail.next = record;
    chain.tail = record;
    chain.size++;
    this.all.set(key, record);
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
