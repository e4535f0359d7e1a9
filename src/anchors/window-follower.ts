// Moves one window on by what the node says of its transactions. A window in
// flight may have several, all signed for its one nonce: the first, and each
// fee bump after it (so whichever lands, only one can). Each is durable before
// the node sees it. A confirmed window stays watched for watchBlocks blocks: if
// its block leaves the canonical chain it is put back in flight and anchored
// again, and its proofs' anchor parts follow once it is confirmed anew.
import type { Hex } from 'viem';
import { dayOf, type WindowCost } from './costs.js';
import type { EthereumNode, Head, IncludedAt, SignedTransaction } from './ethereum.js';
import { firstFees, gweiToWei, raisedFees, type Fees } from './fees.js';
import { encodeAnchorPayload } from './payload.js';
import type { AnchorFaults, AnchorSettings } from './types.js';
import { NOT_MINED, type CostChange, type StoredAttempt, type WindowRecord, type WindowStore } from './window-store.js';

/** A window's transactions are bounded: past this many, it waits as it would at the fee cap. */
export const MAX_ATTEMPTS = 64;

/** Counts since the gateway started, shown by /healthz and the metrics. */
export interface FollowCounts {
  windowsConfirmed: number;
  reanchors: number;
  reorgsAfterConfirmation: number;
  bumps: number;
}

/** What the follower knows of a window in flight beyond its record (not worth a write). */
export interface FlightNotes {
  /** The node's reason for refusing the newest transaction, until it takes one. */
  refused: string | null;
  /** A bump was due and the cap (or MAX_ATTEMPTS) left no room for it. */
  atFeeCap: boolean;
}

export interface FollowerParts {
  settings: AnchorSettings;
  node: EthereumNode;
  store: WindowStore;
  chainId: number;
  gateway: Buffer;
  counts: FollowCounts;
  faults: AnchorFaults;
  /** Entries in directories first…last (for a window recorded before entries were counted). */
  entries(first: number, last: number): number;
  event(event: string, message: string, fields: Record<string, unknown>): void;
}

type Landed = { attempt: StoredAttempt; at: IncludedAt } | 'none' | 'taken' | 'unsure';

export class WindowFollower {
  private readonly notes = new Map<number, FlightNotes>();
  private readonly cap: bigint;
  private bumpsStored = 0;

  constructor(private readonly parts: FollowerParts) {
    this.cap = gweiToWei(parts.settings.maxFeePerGasGwei);
  }

  /** The notes of a window in flight (fresh ones for a window not seen yet). */
  notesOf(window: WindowRecord): FlightNotes {
    return this.notes.get(window.first) ?? { refused: null, atFeeCap: false };
  }

  /** The fees a new window's first transaction is signed with. */
  async firstFees(): Promise<Fees> {
    return firstFees(await this.parts.node.fees(), this.cap);
  }

  /** A window not confirmed: in a block now? If not: in the node's pool, and is a bump due? */
  async fly(window: WindowRecord, head: Head): Promise<void> {
    this.assertNetwork(window, 'is in flight');
    const landed = await this.landed(window);
    if (landed === 'unsure') return;
    if (landed === 'taken') return this.signAgain(window);
    if (landed !== 'none') return this.included(window, landed.attempt, landed.at, head);
    if (window.state === 'included') await this.leftChain(window, head, false);
    await this.offer(window);
    if (this.bumpDue(window)) await this.bump(window);
  }

  /** A confirmed window in its watch: is its transaction still in the block it was confirmed in? */
  async watch(window: WindowRecord, head: Head): Promise<void> {
    this.assertNetwork(window, 'is watched for anchors.ethereum.watchBlocks blocks after its confirmation');
    const at = await this.parts.node.includedAt(window.tx as Hex);
    if (at !== null && at.blockHash === window.blockHash) return;
    await this.leftChain(window, head, true);
    await this.fly(window, head);
  }

  /** Which of the window's transactions is in a block, if its nonce is used at all. */
  private async landed(window: WindowRecord): Promise<Landed> {
    const { node } = this.parts;
    if ((await node.nonce('latest', window.from as Hex)) <= window.nonce) return 'none';
    const byLikelihood = [...window.attempts].reverse().sort((a, b) => Number(b.tx === window.tx) - Number(a.tx === window.tx));
    for (const attempt of byLikelihood) {
      const at = await node.includedAt(attempt.tx as Hex);
      if (at !== null) return { attempt, at };
    }
    // A node still indexing its receipts may know the nonce used before it can say by which: wait for it.
    for (const attempt of window.attempts) if (await node.known(attempt.tx as Hex)) return 'unsure';
    // The block that used the nonce may have left the chain while the receipts were looked up
    // (a reorganisation between these reads): then the nonce is free again and signing for a new
    // one could land two transactions of this window. 'taken' only if the nonce is still used.
    if ((await node.nonce('latest', window.from as Hex)) <= window.nonce) return 'none';
    return 'taken';
  }

  private async included(window: WindowRecord, attempt: StoredAttempt, at: IncludedAt, head: Head): Promise<void> {
    if (!at.success) throw new Error(`anchor transaction ${attempt.tx} of window ${window.first}…${window.last} failed in block ${at.blockNumber}`);
    // The receipt may be of a block newer than the head read at the start of this step.
    const confirmations = Math.max(1, head.number - at.blockNumber + 1);
    const confirmed = confirmations >= this.parts.settings.confirmations;
    const change: Partial<WindowRecord> = {
      state: confirmed ? 'confirmed' : 'included',
      tx: attempt.tx,
      blockNumber: at.blockNumber,
      blockHash: at.blockHash,
      confirmations,
      gasUsed: Number(at.gasUsed),
      gasPriceWei: at.gasPrice === null ? null : String(at.gasPrice),
      feeWei: at.gasPrice === null ? null : String(at.gasUsed * at.gasPrice),
      confirmedAt: confirmed ? Date.now() : null,
      entries: window.entries ?? this.parts.entries(window.first, window.last),
    };
    if (!confirmed) return this.save(window, change);
    await this.save(window, change, { add: costOf({ ...window, ...change }) });
    this.parts.counts.windowsConfirmed++;
    this.notes.delete(window.first);
  }

  /**
   * Its block is no longer canonical: the window is back in flight, with its
   * newest transaction, and its cost no longer counts (a window confirmed before
   * costs were kept never counted: gasUsed null).
   */
  private async leftChain(window: WindowRecord, head: Head, wasConfirmed: boolean): Promise<void> {
    const { counts } = this.parts;
    counts.reanchors++;
    if (wasConfirmed) counts.reorgsAfterConfirmation++;
    const depth = window.blockNumber === null ? null : head.number - window.blockNumber + 1;
    this.parts.event(
      'anchor-reorg',
      `the transaction of anchor window ${window.first}…${window.last} left block ${window.blockNumber}` +
        `${wasConfirmed ? ` after the window was confirmed (${depth} blocks on)` : ''}: anchoring it again`,
      {
        first: window.first,
        last: window.last,
        tx: window.tx,
        blockNumber: window.blockNumber,
        blockHash: window.blockHash,
        afterConfirmation: wasConfirmed,
        head: head.number,
      },
    );
    const newest = window.attempts.at(-1)!;
    // Back in the pool (or sent again): its time to a bump starts over.
    const attempts = [...window.attempts.slice(0, -1), { ...newest, sentAt: Date.now() }];
    await this.save(
      window,
      {
        state: 'sent',
        tx: newest.tx,
        attempts,
        ...NOT_MINED,
        reanchors: window.reanchors + 1,
      },
      wasConfirmed && window.gasUsed !== null ? { remove: costOf(window) } : {},
    );
  }

  /** Makes sure the node holds the newest transaction: sent again if it was dropped, or noted when the node refuses its price. */
  private async offer(window: WindowRecord): Promise<void> {
    const { node } = this.parts;
    const newest = window.attempts.at(-1)!;
    const notes = this.notesFor(window);
    if (window.state === 'sent' && (await node.known(newest.tx as Hex))) return;
    const refused = await node.send(newest.raw as Hex);
    notes.refused = refused;
    if (refused !== null) return this.save(window, { state: 'signed' });
    const attempts = [...window.attempts.slice(0, -1), { ...newest, sentAt: Date.now() }];
    await this.save(window, { state: 'sent', attempts });
  }

  /** Not in a block bumpAfterSeconds after the node last took it (or after it was signed, if the node never did). */
  private bumpDue(window: WindowRecord): boolean {
    const newest = window.attempts.at(-1)!;
    return Date.now() - (newest.sentAt ?? newest.signedAt) >= this.parts.settings.bumpAfterSeconds * 1000;
  }

  /** A replacement with the same nonce and higher fees, durable before it is sent; or, at the cap, a wait said out loud. */
  private async bump(window: WindowRecord): Promise<void> {
    const { node, settings } = this.parts;
    this.assertSameKey(window);
    const newest = window.attempts.at(-1)!;
    const previous = { maxFeePerGas: BigInt(newest.maxFeePerGas), maxPriorityFeePerGas: BigInt(newest.maxPriorityFeePerGas) };
    const fees = window.attempts.length >= MAX_ATTEMPTS ? null : raisedFees(previous, await node.fees(), settings.bumpPercent, this.cap);
    const notes = this.notesFor(window);
    if (fees === null) return this.holdAtCap(window, notes);
    notes.atFeeCap = false;
    const signed = await node.sign(this.payload(window), window.nonce, this.parts.chainId, BigInt(newest.gas), fees);
    this.parts.counts.bumps++;
    await this.save(window, {
      state: 'signed',
      tx: signed.hash,
      bumps: window.bumps + 1,
      attempts: [...window.attempts, attemptOf(signed, BigInt(newest.gas), fees)],
    });
    this.parts.event(
      'anchor-bump',
      `anchor window ${window.first}…${window.last}: not in a block ${settings.bumpAfterSeconds} s after it was sent; ` +
        `signed again with nonce ${window.nonce} at ${fees.maxFeePerGas} wei per gas (tip ${fees.maxPriorityFeePerGas})`,
      {
        first: window.first,
        last: window.last,
        nonce: window.nonce,
        oldTx: newest.tx,
        tx: signed.hash,
        maxFeePerGas: String(fees.maxFeePerGas),
        maxPriorityFeePerGas: String(fees.maxPriorityFeePerGas),
        bumps: window.bumps,
      },
    );
    this.crashPoint();
    await this.offer(window);
  }

  private holdAtCap(window: WindowRecord, notes: FlightNotes): void {
    if (notes.atFeeCap) return;
    notes.atFeeCap = true;
    const newest = window.attempts.at(-1)!;
    const why =
      window.attempts.length >= MAX_ATTEMPTS
        ? `${MAX_ATTEMPTS} transactions were signed for it already`
        : `a higher fee would pass anchors.ethereum.maxFeePerGasGwei (${this.parts.settings.maxFeePerGasGwei} gwei)`;
    this.parts.event(
      'anchor-fee-cap',
      `anchor window ${window.first}…${window.last} is not in a block and ${why}: waiting for fees to fall rather than pay more`,
      { first: window.first, last: window.last, tx: newest.tx, maxFeePerGas: newest.maxFeePerGas, maxFeePerGasGwei: this.parts.settings.maxFeePerGasGwei },
    );
  }

  /** Its nonce went to another transaction of this account: none of its transactions can land, so it gets a new one. */
  private async signAgain(window: WindowRecord): Promise<void> {
    const { node } = this.parts;
    this.assertSameKey(window);
    const payload = this.payload(window);
    const [gas, fees, nonce] = await Promise.all([node.gasFor(payload), this.firstFees(), node.nonce('pending')]);
    const signed = await node.sign(payload, nonce, this.parts.chainId, gas, fees);
    this.parts.event(
      'anchor-resigned',
      `anchor window ${window.first}…${window.last}: nonce ${window.nonce} was used by another transaction; signed again with nonce ${signed.nonce}`,
      { first: window.first, last: window.last, oldTx: window.tx, tx: signed.hash, nonce: signed.nonce },
    );
    await this.save(window, {
      state: 'signed',
      tx: signed.hash,
      nonce,
      attempts: [attemptOf(signed, gas, fees)],
      ...NOT_MINED,
    });
    await this.offer(window);
  }

  private async save(window: WindowRecord, change: Partial<WindowRecord>, costs: CostChange = {}): Promise<void> {
    const changed = Object.entries(change).some(([key, value]) => window[key as keyof WindowRecord] !== value);
    Object.assign(window, change);
    if (changed) await this.parts.store.put(window, costs);
  }

  private notesFor(window: WindowRecord): FlightNotes {
    let notes = this.notes.get(window.first);
    if (notes === undefined) this.notes.set(window.first, (notes = { refused: null, atFeeCap: false }));
    return notes;
  }

  private payload(window: WindowRecord): Buffer {
    return encodeAnchorPayload({ first: window.first, last: window.last, gateway: this.parts.gateway, root: Buffer.from(window.root, 'hex') });
  }

  private assertNetwork(window: WindowRecord, what: string): void {
    if (window.networkId === this.parts.chainId) return;
    throw new Error(
      `anchor window ${window.first}…${window.last} ${what} on chain id ${window.networkId}, but the node is on ${this.parts.chainId}: point anchors.ethereum.rpcUrl back at that network until it is done`,
    );
  }

  /** Another key's transaction could land beside the window's own: that is the operator's to settle. */
  private assertSameKey(window: WindowRecord): void {
    if (window.from.toLowerCase() === this.parts.node.account.address.toLowerCase()) return;
    throw new Error(
      `anchor window ${window.first}…${window.last} was signed by ${window.from} and must be signed again, but anchors.ethereum.keyFile now holds the key of ${this.parts.node.account.address}: restore the old key until the window is confirmed`,
    );
  }

  /** Tests only (CHAINLANES_TEST_FAULTS): the whole process dies, as by kill -9, with a bump stored and not sent. */
  private crashPoint(): void {
    this.bumpsStored++;
    if (this.parts.faults.killAfterBumpStored > 0 && this.bumpsStored >= this.parts.faults.killAfterBumpStored) process.kill(process.pid, 'SIGKILL');
  }
}

export function attemptOf(signed: SignedTransaction, gas: bigint, fees: Fees): StoredAttempt {
  return {
    tx: signed.hash,
    raw: signed.raw,
    gas: String(gas),
    maxFeePerGas: String(fees.maxFeePerGas),
    maxPriorityFeePerGas: String(fees.maxPriorityFeePerGas),
    signedAt: Date.now(),
    sentAt: null,
  };
}

function costOf(window: WindowRecord): WindowCost {
  return { day: dayOf(window.confirmedAt ?? Date.now()), gasUsed: window.gasUsed ?? 0, feeWei: window.feeWei ?? '0', entries: window.entries ?? 0 };
}
