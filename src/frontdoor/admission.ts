// Admission: everything the front door does with a frame, synchronously,
// inside the uWS callback that delivered it. Every check a frame can fail
// runs before its sequence numbers are reserved, so a rejected frame leaves
// no trace. Nothing here blocks: a full ring or a full sealer answers `busy`.
import { performance } from 'node:perf_hooks';
import { FrameReader, LIGHT, type FrameLimits, type RingView } from '../ring/index.js';
import type { LanePool } from '../lanes/index.js';
import type { CutBlock, Sealer } from '../sealer/index.js';
import type { BlockWriter, ChainRegistry, ChainState } from './chains.js';
import type { SealProgress } from './seal-progress.js';
import { countByErrorCode, FRAME_ID_BYTES, FRAME_ID_MARK, readFrameId, sealBytesOfFrame, type ErrorCode, type FrameId } from '../protocol/index.js';
import { isRefusal, type Bill, type CreditBook, type Principal } from '../credits/index.js';
import { movedCode, type ChainOwnership, type ClaimResult } from './ownership.js';
import { FrameIdWindow, type RememberedFrame } from './frame-ids.js';

/** A frame admitted into a lane ring, waiting for its hashes. */
export interface PendingFrame {
  owner: FrameOwner;
  /** The frame's number on its connection. */
  frame: number;
  seq: number;
  count: number;
  /** Byte offset of its record in the lane ring's SharedArrayBuffer. */
  at: number;
  /** performance.now() when it was admitted. */
  admittedAt: number;
  /** Its client frame id in the window, told of its hashes; null: the frame has none (or the window could not hold it). */
  id: RememberedFrame | null;
}

/**
 * A frame whose id the window holds, hashed: nothing is written, and it is
 * answered with the first one's `accepted` (`repeat: true`).
 */
export class Repeat {
  constructor(
    readonly seq: number,
    readonly count: number,
    readonly hashes: Buffer,
    /** Whether its entries are durable already; if not, the `committed` notices of its blocks follow on the repeat's connection too. */
    readonly committed: boolean,
  ) {}
}

/**
 * A repeat of an id the window stripped of its hashes for its byte bound (its
 * entries are durable): `answer` is the Repeat with the hashes read back from
 * the store, or `internal` if the store no longer has them. The caller answers
 * the frame when it settles (a stream's replies stay in frame order).
 */
export class StoredRepeat {
  constructor(readonly answer: Promise<Repeat | Rejection>) {}
}

/** Told of admitted frames, to sample how long entries take to commit (the dashboard's feed). */
/** Times frames from admission to commit (the dashboard's sampler): told of each admitted frame and each durable block. */
export interface CommitProbe {
  admitted(slot: number, endSeq: number, at: number): void;
  committed(slot: number, endSeq: number, at: number): void;
}

/** Whoever sent a frame: a WebSocket connection or an HTTP request. */
export interface FrameOwner extends BlockWriter {
  /** Its frame is hashed: the reply is due. The owner may hold it until `sendHashed`. */
  hashed(frame: PendingFrame, ring: RingView): void;
  /**
   * Called once per owner after each batch of `hashed` calls: sends what they
   * made due, so a connection with many frames in one batch writes them in one
   * go (one corked send, one system call) rather than one per frame.
   */
  sendHashed(): void;
}

export class Rejection {
  readonly code: ErrorCode;
  readonly message: string;
  /** For `moved`: the URL of the gateway that serves the chain. */
  readonly location: string | null;
  constructor(code: ErrorCode, message: string, location: string | null = null) {
    this.code = code;
    this.message = message;
    this.location = location;
  }
}

/**
 * A frame of a chain no gateway of the fleet owns yet, that passed every
 * other check: nothing of it is reserved. Its owner waits for the claim
 * (`Admission.claim`) and admits it again if won. Owners that do not wait
 * answer it as the `busy` it is.
 */
export class Unclaimed extends Rejection {
  constructor(readonly chain: string) {
    super('busy', `chain "${chain}" is being claimed for this gateway; retry in a moment`);
  }
}

export interface AdmissionStats {
  framesAccepted: number;
  entriesAccepted: number;
  bytesAccepted: number;
  rejected: Record<ErrorCode, number>;
}

/** The limits admission enforces; the rest of the config is none of its business. */
export interface AdmissionLimits extends FrameLimits {
  maxFrameBytes: number;
  /** Accepted entries not yet durable; past it frames get `busy` (see overUnsealedLimit). */
  maxUnsealedBytes: number;
  /** A chain's open block is cut when it reaches this many entries. */
  maxBlockEntries: number;
  /**
   * With standby replicas, the interval's blocks are cut early before a frame
   * that could make their seal message larger than this (protocol/seal-bound.ts):
   * the replica stream's bound less a seal's fixed bytes. Infinity without replicas.
   */
  maxCutBytes?: number;
  /** Client frame ids remembered per chain, and in all (frame-ids.ts). */
  frameIdWindow: number;
  maxFrameIdBytes: number;
}

/** Fair shares inside a lane (fair-share.ts): asked before a frame is parsed, charged once it is admitted. */
export interface FairShareGate {
  /** `slot` -1: a chain its first frame is about to create. */
  allows(slot: number, lane: number, backlogFrames: number): boolean;
  charge(slot: number, lane: number, entries: number, bytes: number): void;
}

/** What admission is built from; every part exists before the first frame. */
export interface AdmissionParts {
  limits: AdmissionLimits;
  chains: ChainRegistry;
  pools: LanePool<PendingFrame>[];
  sealer: Sealer;
  /** The lane a chain slot is in now (the shared chain table). */
  laneOf(slot: number): number;
  /** The book of credits in authenticated mode; null in open mode, where frames are free. */
  credits: CreditBook | null;
  /** How sealing goes: while seals keep failing every frame is refused `busy` with the reason. */
  seals: SealProgress;
  /** Per-chain fair shares inside each lane; null: off (balancer.fairShare false). */
  fairShare: FairShareGate | null;
  /** Times a frame per chain and block for the dashboard's commit latency; null: none. */
  commitProbe: CommitProbe | null;
  /** Which chains this gateway may admit, in a fleet (ownership.ts); null: a gateway on its own, every chain is its own. */
  ownership: ChainOwnership | null;
  /**
   * Entry hashes of seqs `seq` … `seq + count − 1` read from the store (the
   * reader threads), null when not there: with it, the window strips durable
   * ids of their hashes before it forgets ids (frame-ids.ts). Absent: never.
   */
  storedHashes?: (chain: string, seq: number, count: number) => Promise<Uint8Array | null>;
}

export class Admission {
  readonly stats: AdmissionStats = {
    framesAccepted: 0,
    entriesAccepted: 0,
    bytesAccepted: 0,
    rejected: countByErrorCode(),
  };
  /** Recent client frame ids per chain: a frame sent again is answered, not written again. */
  readonly frameIds: FrameIdWindow;
  /** Blocks cut since the last interval's seal order. */
  private cuts: CutBlock[] = [];
  /** What the frames admitted since the last cut may weigh in a seal message (sealBytesOfFrame). */
  private cutBytes = 0;
  private closed = false;
  private readonly reader: FrameReader;
  private readonly limits: AdmissionLimits;
  private readonly pools: LanePool<PendingFrame>[];
  private readonly sealer: Sealer;
  private readonly laneOf: (slot: number) => number;
  private readonly chains: ChainRegistry;
  private readonly credits: CreditBook | null;
  private readonly seals: SealProgress;
  private readonly fairShare: FairShareGate | null;
  private readonly commitProbe: CommitProbe | null;
  private readonly ownership: ChainOwnership | null;
  /**
   * Where the frame walk found each entry (offset from the frame's start, length): the
   * lane ring record carries them, so lanes hash without walking the frame again, and
   * credits price entries by their lengths.
   */
  private readonly spans: Int32Array;
  private readonly storedHashes: AdmissionParts['storedHashes'];

  constructor(parts: AdmissionParts) {
    this.limits = parts.limits;
    this.chains = parts.chains;
    this.pools = parts.pools;
    this.sealer = parts.sealer;
    this.laneOf = parts.laneOf;
    this.reader = new FrameReader(parts.limits);
    this.credits = parts.credits;
    this.seals = parts.seals;
    this.fairShare = parts.fairShare;
    this.commitProbe = parts.commitProbe;
    this.ownership = parts.ownership;
    this.spans = new Int32Array(2 * parts.limits.maxEntriesPerFrame);
    this.storedHashes = parts.storedHashes;
    const durableUpTo = parts.storedHashes === undefined ? undefined : (slot: number) => this.chains.at(slot)?.committedSeq ?? 0;
    this.frameIds = new FrameIdWindow({ perChain: parts.limits.frameIdWindow, maxBytes: parts.limits.maxFrameIdBytes }, durableUpTo);
  }

  /**
   * Admits a frame, or returns why not. `bytes` is only valid during this call.
   * `chain` is a chain's state, or the name of one that does not exist yet: a
   * chain is created by its first accepted frame, never by a connection or a
   * refused frame, so nobody can take chain slots without writing.
   * `payer` is who presented the key, in authenticated mode.
   */
  admit(
    chain: ChainState | string,
    frameBytes: Uint8Array,
    owner: FrameOwner,
    frame: number,
    payer: Principal | null = null,
  ): PendingFrame | Rejection | Repeat | StoredRepeat {
    const limits = this.limits;
    if (this.closed) return this.reject('busy', 'the gateway is shutting down');
    // Without the sealer nothing accepted could become durable, so nothing more is accepted.
    if (!this.sealer.alive) return this.reject('internal', 'the sealer thread stopped; the gateway accepts nothing until it is restarted');
    // A frame's size is its `length`, read once: Node 20's TurboFan does not
    // inline `byteLength` (docs/architecture.md, "What V8 does not inline on
    // the frame path").
    if (frameBytes.length > limits.maxFrameBytes) {
      return this.reject('too_large', `frame has ${frameBytes.length} bytes, more than the limit of ${limits.maxFrameBytes}`);
    }
    const known = typeof chain === 'string' ? undefined : chain;
    const name = typeof chain === 'string' ? chain : chain.name;
    // In a fleet, a chain another gateway serves costs no frame walk; one no gateway owns is claimed below.
    let unclaimed = false;
    if (this.ownership !== null) {
      const verdict = this.ownership.check(name, performance.now());
      if (verdict.kind === 'moved') return this.reject(movedCode(verdict), verdict.message, verdict.location);
      if (verdict.kind === 'busy') return this.reject('busy', verdict.message);
      unclaimed = verdict.kind === 'unclaimed';
    }
    // A frame without an id costs this one compare; one with an id is looked up
    // here, after ownership (the window lives with the chain's owner) and before
    // the `busy` checks: answering a repeat writes nothing.
    let id: FrameId | null = null;
    let bytes = frameBytes;
    if (frameBytes[0] === FRAME_ID_MARK) {
      const read = readFrameId(frameBytes);
      if (typeof read === 'string') return this.reject('bad_frame', read);
      id = read;
      bytes = frameBytes.subarray(FRAME_ID_BYTES);
      // A stream opened before its chain existed names it by name, and another stream may have created it since.
      const holder = known ?? this.chains.get(name);
      if (holder !== undefined) {
        const seen = this.frameIds.find(holder.slot, read);
        if (seen !== undefined) return this.repeat(seen, bytes, holder, owner);
      }
    }
    // The cheap `busy` checks come before the walk over the frame: a client told
    // `busy` tends to retry at once, and refusing it must cost next to nothing.
    // A store that fails to seal (a full disk) is not a fault of the gateway, and
    // it usually comes back: `busy`, with the reason, until a seal succeeds.
    if (this.seals.refusal !== null) return this.reject('busy', `the store is failing to seal: ${this.seals.refusal}; retry later`);
    // A new chain holds nothing yet and starts in the light lane.
    if (known !== undefined && this.overUnsealedLimit(known.slot)) {
      return this.reject('busy', `chain "${name}" has too many entries waiting to be made durable; retry later`);
    }
    const pool = this.pools[known === undefined ? LIGHT : this.laneOf(known.slot)]!;
    const frameLength = bytes.length;
    if (!pool.mayFit(frameLength)) return this.reject('busy', `the ${pool.name} lane is full; retry later`);
    if (this.fairShare !== null && !this.fairShare.allows(known === undefined ? -1 : known.slot, pool.lane, pool.backlog)) {
      return this.reject('busy', `chain "${name}" is over its fair share of the ${pool.name} lane while others wait; retry later`);
    }
    const count = this.reader.scan(bytes, 0, frameLength, this.spans);
    if (count < 0) return this.reject(this.reader.code, this.reader.message);
    // The whole frame's cost, checked against the payer's balance before
    // anything is reserved: a frame it cannot pay for leaves no trace.
    let bill: Bill | undefined;
    if (this.credits !== null) {
      if (payer === null) return this.reject('unauthenticated', 'no key');
      const billed = this.credits.bill(name, payer, count, this.spans);
      if (isRefusal(billed)) return this.reject(billed.code, billed.message);
      bill = billed;
    }
    // Claimed by its first frame that passes every other check (DESIGN.md "Fleet"); nothing is reserved before the claim is won.
    if (unclaimed) return new Unclaimed(name);
    const target = known ?? this.chains.getOrCreate(name);
    if (target === undefined) {
      return this.reject('unknown_chain', `no chain "${name}", and the gateway already serves its limit of ${this.chains.table.maxChains} chains`);
    }
    const at = pool.push(bytes, count, target.slot, target.nextSeq, this.spans);
    if (at < 0) return this.reject('busy', `the ${pool.name} lane is full; retry later`);
    this.boundCut(sealBytesOfFrame(frameLength, count));
    const firstCut = this.cuts.length;
    const seq = target.reserve(count, owner, this.limits.maxBlockEntries, this.cuts);
    // Same synchronous step as the check above: nothing can spend the balance in between.
    if (bill !== undefined) this.burn(bill, target, seq, firstCut);
    this.fairShare?.charge(target.slot, pool.lane, count, frameLength);
    this.stats.framesAccepted++;
    this.stats.entriesAccepted += count;
    this.stats.bytesAccepted += frameLength;
    const remembered = id === null ? null : this.frameIds.remember(target.slot, id, seq, count);
    const pending: PendingFrame = { owner, frame, seq, count, at, admittedAt: performance.now(), id: remembered };
    this.commitProbe?.admitted(target.slot, seq + count, pending.admittedAt);
    pool.submit(pending, count, frameLength);
    return pending;
  }

  /** A frame sent again with a remembered id: its first `accepted`, or why it cannot have it yet. */
  private repeat(seen: RememberedFrame, entries: Uint8Array, chain: ChainState, owner: FrameOwner): Repeat | StoredRepeat | Rejection {
    const count = this.reader.scan(entries, 0, entries.length, null);
    if (count < 0) return this.reject(this.reader.code, this.reader.message);
    const { producer, n } = seen.id;
    if (count !== seen.count) {
      return this.reject('bad_frame', `frame id (producer ${producer}, n ${n}) was used for a frame of ${seen.count} entries, and this one has ${count}`);
    }
    if (seen.stripped && this.storedHashes !== undefined) return this.repeatFromStore(seen, chain.name, this.storedHashes);
    if (seen.hashes === null) {
      return this.reject(
        'busy',
        `frame id (producer ${producer}, n ${n}) is still being accepted, from where it was first sent; nothing was written twice: send it again for its reply`,
      );
    }
    this.frameIds.stats.repeats++;
    const endSeq = seen.seq + seen.count;
    const committed = endSeq <= chain.committedSeq;
    // Its `committed` notices come to this owner too: the first one's connection may be gone.
    if (!committed) chain.addWriter(seen.seq, endSeq, owner);
    return new Repeat(seen.seq, seen.count, seen.hashes, committed);
  }

  /** A repeat of a stripped id (durable, so no notice follows): its hashes read back from the store. */
  private repeatFromStore(seen: RememberedFrame, chain: string, read: NonNullable<AdmissionParts['storedHashes']>): StoredRepeat {
    this.frameIds.stats.repeats++;
    this.frameIds.stats.repeatsFromStore++;
    const { seq, count } = seen;
    const gone = `the entries of frame id (producer ${seen.id.producer}, n ${seen.id.n}), seqs ${seq}…${seq + count - 1}, could not be read back from the store`;
    const answer = read(chain, seq, count).then(
      (hashes) => (hashes === null ? this.reject('internal', gone) : new Repeat(seq, count, Buffer.from(hashes), true)),
      (error: unknown) => this.reject('internal', `${gone}: ${String(error)}`),
    );
    return new StoredRepeat(answer);
  }

  /**
   * Debits a billed frame block by block: reserving its seqs may have cut
   * blocks inside it (cuts[firstCut…]), and each block carries its own burns.
   */
  private burn(bill: Bill, chain: ChainState, seq: number, firstCut: number): void {
    let from = 0;
    for (let i = firstCut; i < this.cuts.length; i++) {
      const block = this.cuts[i]!;
      this.credits!.burn(bill, block.firstSeq, from, block.endSeq - seq);
      from = block.endSeq - seq;
    }
    if (from < bill.count) this.credits!.burn(bill, chain.blockFirstSeq, from, bill.count);
  }

  /**
   * The bound on accepted-but-not-durable entries. Past it, only chains holding
   * a large part of the backlog (an eighth or more) are refused, so a flood
   * that outruns the disk is turned away while small chains go on; the last
   * quarter above the bound is theirs, and past that everyone waits.
   */
  private overUnsealedLimit(slot: number): boolean {
    const bound = this.limits.maxUnsealedBytes;
    const total = this.sealer.pendingBytes();
    if (total <= bound) return false;
    return total > bound * 1.25 || this.sealer.chainPendingBytes(slot) * 8 >= bound;
  }

  /** Cuts what the interval holds before a frame that would take its seal over `maxCutBytes` (the config makes any one frame fit). */
  private boundCut(frameSealBytes: number): void {
    if (this.cutBytes > 0 && this.cutBytes + frameSealBytes > (this.limits.maxCutBytes ?? Infinity)) this.cutBlocks();
    this.cutBytes += frameSealBytes;
  }

  /** From now on every frame is refused `busy`: the gateway is shutting down. */
  close(): void {
    this.closed = true;
  }

  get closing(): boolean {
    return this.closed;
  }

  reject(code: ErrorCode, message: string, location: string | null = null): Rejection {
    this.stats.rejected[code]++;
    return new Rejection(code, message, location);
  }

  /** Claims a new chain for this gateway (a frame got `Unclaimed`): resolves null once won, else why its frames are refused. */
  async claim(name: string): Promise<Rejection | null> {
    if (this.ownership === null) return null;
    let result: ClaimResult;
    try {
      result = await this.ownership.claim(name);
    } catch (error) {
      result = { won: null, message: `the claim of chain "${name}" failed: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (result.won === true) return null;
    if (result.won === false) return new Rejection(movedCode(result), result.message, result.location);
    return new Rejection('busy', `chain "${name}" could not be claimed for this gateway: ${result.message}; retry later`);
  }

  /**
   * Whether reads of `name` belong to another gateway of the fleet (a stream's
   * upgrade, GET routes): the refusal to answer with, or null to serve here.
   */
  servedElsewhere(name: string): Rejection | null {
    const verdict = this.ownership?.servedElsewhere(name) ?? null;
    return verdict === null ? null : this.reject(movedCode(verdict), verdict.message, verdict.location);
  }

  /**
   * Hop 4 of a frame's life: every block interval, each chain's open block is
   * cut where its seqs end now, and the interval's cuts go to the sealer.
   */
  cutBlocks(): void {
    this.cutBytes = 0;
    for (const chain of this.chains.all()) if (chain.hasOpenBlock) chain.cut(chain.nextSeq, this.cuts);
    if (this.cuts.length === 0) return;
    // Each block's client frame ids ride with it to its seal transaction (frame-ids.ts).
    for (const block of this.cuts) {
      const ids = this.frameIds.takeForBlock(block.slot, block.endSeq);
      if (ids !== undefined) block.frameIds = ids;
    }
    // Each block's burns, aggregated by account, ride with it to the seal transaction.
    if (this.credits !== null) {
      for (const block of this.cuts) {
        const burns = this.credits.takeBurns(block.chainName, block.firstSeq);
        if (burns !== undefined) block.burns = burns;
      }
    }
    this.sealer.cut({ sealedAt: Date.now(), blocks: this.cuts });
    this.cuts = [];
  }
}
