// The Ethereum anchor sink's loop, on the anchor thread. One window is in
// flight at a time: it is formed from the directory hashes sealed since the
// last window, its transaction signed and made durable, sent, watched until it
// has enough confirmations, and only then is the next window formed (it then
// covers everything sealed meanwhile, so a slow chain means bigger windows, not
// more transactions). Every RPC failure is retried with back-off.
import type { Hex } from 'viem';
import { ETHEREUM_NETWORK, type AnchorView } from '../protocol/index.js';
import type { EthereumNode } from './ethereum.js';
import { encodeAnchorPayload } from './payload.js';
import type { AnchorSettings, AnchorStatus } from './types.js';
import { WindowTree } from './window-tree.js';
import type { WindowRecord, WindowStore } from './window-store.js';

/** Directory anchor records from a height on (the ledger's `anchors(from, limit)`). */
export type DirectorySource = (from: number, limit: number) => AnchorView[];

/** Ledger.anchors() answers at most this many per call. */
const DIRECTORY_PAGE = 1000;

export interface AnchorLoopParts {
  settings: AnchorSettings;
  node: EthereumNode;
  store: WindowStore;
  directories: DirectorySource;
  gateway: Buffer;
  /** Called after every step with the loop's state. */
  report(status: AnchorStatus): void;
  /** Notable events (a reorg, a re-signed transaction) for the gateway's log. */
  event(event: string, message: string, fields: Record<string, unknown>): void;
}

export class AnchorLoop {
  private chainId: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly status: AnchorStatus;

  constructor(private readonly parts: AnchorLoopParts) {
    this.status = {
      network: ETHEREUM_NETWORK, networkId: null, account: parts.node.account.address, gateway: parts.gateway.toString('hex'),
      sealedHeight: -1, anchoredHeight: -1, backlog: 0, window: null,
      windowsConfirmed: 0, reanchors: 0, failures: 0, failuresInRow: 0, lastError: null, retryAt: null,
    };
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let delay = this.parts.settings.pollMs;
    try {
      await this.step();
      this.status.failuresInRow = 0;
      this.status.retryAt = null;
    } catch (error) {
      this.status.failures++;
      this.status.failuresInRow++;
      this.status.lastError = causeOf(error);
      const { retryMinMs, retryMaxMs } = this.parts.settings;
      delay = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(this.status.failuresInRow - 1, 20));
      this.status.retryAt = Date.now() + delay;
    }
    this.refreshBacklog();
    this.parts.report({ ...this.status, window: this.status.window === null ? null : { ...this.status.window } });
    this.schedule(delay);
  }

  private async step(): Promise<void> {
    const { node, store, settings } = this.parts;
    if (this.chainId === null) {
      const chainId = await node.chainId();
      if (settings.networkId !== null && chainId !== settings.networkId) {
        throw new Error(`the node at anchors.ethereum.rpcUrl is on chain id ${chainId}, not anchors.ethereum.networkId ${settings.networkId}`);
      }
      this.chainId = chainId;
      this.status.networkId = chainId;
    }
    const latest = store.latest();
    if (latest !== undefined && latest.state !== 'confirmed') return this.advance(latest);
    if (latest !== undefined) this.confirmed(latest);
    const formed = await this.form(latest === undefined ? 0 : latest.last + 1);
    if (formed !== null) await this.advance(formed);
  }

  /** A new window from `first` on, if one is due: signed, and durable before anything is sent. */
  private async form(first: number): Promise<WindowRecord | null> {
    const { settings, node, store } = this.parts;
    const sealed = this.sealedFrom(first, settings.maxWindowDirectories);
    if (sealed.length === 0) return null;
    const due = sealed.length >= settings.everyDirectories || Date.now() - sealed[0]!.sealedAt >= settings.everySeconds * 1000;
    if (!due) return null;
    const tree = new WindowTree(first, sealed.map((d) => Buffer.from(d.hash, 'hex')));
    const signed = await node.sign(this.payload(first, tree.last, tree.root), await node.nonce('pending'), this.chainId!);
    const record: WindowRecord = {
      first, last: tree.last, count: tree.count, root: tree.root.toString('hex'), state: 'signed',
      network: ETHEREUM_NETWORK, networkId: this.chainId!, tx: signed.hash, nonce: signed.nonce, raw: signed.raw, from: node.account.address,
      blockNumber: null, blockHash: null, confirmations: 0, reanchors: 0, createdAt: Date.now(), confirmedAt: null,
    };
    await store.put(record);
    this.status.window = windowStatus(record);
    return record;
  }

  /** Moves a window on by what the node says of its transaction. */
  private async advance(window: WindowRecord): Promise<void> {
    const { node } = this.parts;
    this.status.window = windowStatus(window);
    const hash = window.tx as Hex;
    if (window.networkId !== this.chainId) {
      throw new Error(`anchor window ${window.first}…${window.last} is in flight on chain id ${window.networkId}, but the node is on ${this.chainId}: point anchors.ethereum.rpcUrl back at that network until it is confirmed`);
    }
    if (window.state === 'signed') {
      // It may have reached the node before a crash: then it is found, not sent again.
      if (!(await node.known(hash))) {
        if ((await node.nonce('latest', window.from as Hex)) > window.nonce) return this.notIncluded(window, hash);
        await node.send(window.raw as Hex);
      }
      await this.save(window, { state: 'sent' });
    }
    const at = await node.includedAt(hash);
    if (at === null) return this.notIncluded(window, hash);
    if (!at.success) throw new Error(`anchor transaction ${hash} of window ${window.first}…${window.last} failed in block ${at.blockNumber}`);
    const confirmations = (await node.head()) - at.blockNumber + 1;
    const confirmed = confirmations >= this.parts.settings.confirmations;
    await this.save(window, {
      state: confirmed ? 'confirmed' : 'included', blockNumber: at.blockNumber, blockHash: at.blockHash,
      confirmations, confirmedAt: confirmed ? Date.now() : null,
    });
    if (confirmed) this.confirmed(window);
  }

  /** Not in a block of the canonical chain: waiting in the pool, or dropped (by a reorg, or lost by a restarted node). */
  private async notIncluded(window: WindowRecord, hash: Hex): Promise<void> {
    const { node } = this.parts;
    const wasIncluded = window.state === 'included';
    if (wasIncluded) {
      this.status.reanchors++;
      this.parts.event('anchor-reorg', `the transaction of anchor window ${window.first}…${window.last} left block ${window.blockNumber}: anchoring it again`,
        { first: window.first, last: window.last, tx: hash, blockNumber: window.blockNumber, blockHash: window.blockHash });
    }
    const reset = { state: 'sent' as const, blockNumber: null, blockHash: null, confirmations: 0, reanchors: window.reanchors + (wasIncluded ? 1 : 0) };
    if (await node.known(hash)) return this.save(window, reset);
    // Dropped. Its nonce still free: the same signed transaction goes again, so
    // there is never a second transaction that could also land for this window.
    if ((await node.nonce('latest', window.from as Hex)) <= window.nonce) {
      await node.send(window.raw as Hex);
      return this.save(window, reset);
    }
    // Its nonce went to another transaction of this account: this one can never land, so the window gets a new one.
    // Signed with another key, the old transaction could still land beside a new one: that is the operator's to settle.
    if (window.from.toLowerCase() !== node.account.address.toLowerCase()) {
      throw new Error(`anchor window ${window.first}…${window.last} was signed by ${window.from} and must be signed again, but anchors.ethereum.keyFile now holds the key of ${node.account.address}: restore the old key until the window is confirmed`);
    }
    const signed = await node.sign(this.payload(window.first, window.last, Buffer.from(window.root, 'hex')), await node.nonce('pending'), this.chainId!);
    this.parts.event('anchor-resigned', `anchor window ${window.first}…${window.last}: nonce ${window.nonce} was used by another transaction; signed again with nonce ${signed.nonce}`,
      { first: window.first, last: window.last, oldTx: hash, tx: signed.hash, nonce: signed.nonce });
    await this.save(window, { ...reset, state: 'signed', tx: signed.hash, raw: signed.raw, nonce: signed.nonce });
    await node.send(signed.raw);
    await this.save(window, { state: 'sent' });
  }

  private async save(window: WindowRecord, change: Partial<WindowRecord>): Promise<void> {
    const changed = Object.entries(change).some(([key, value]) => window[key as keyof WindowRecord] !== value);
    Object.assign(window, change);
    this.status.window = windowStatus(window);
    if (changed) await this.parts.store.put(window);
  }

  private confirmed(window: WindowRecord): void {
    if (this.status.anchoredHeight !== window.last) this.status.windowsConfirmed++;
    this.status.anchoredHeight = window.last;
    this.status.window = null;
  }

  private payload(first: number, last: number, root: Buffer): Buffer {
    return encodeAnchorPayload({ first, last, gateway: this.parts.gateway, root });
  }

  /** Up to `limit` sealed directories from `first` on, in height order and without a gap. */
  private sealedFrom(first: number, limit: number): AnchorView[] {
    const out: AnchorView[] = [];
    while (out.length < limit) {
      const page = this.parts.directories(first + out.length, Math.min(DIRECTORY_PAGE, limit - out.length));
      for (const directory of page) {
        if (directory.height !== first + out.length) throw new Error(`directory ${first + out.length} is missing from the store's anchor records`);
        out.push(directory);
      }
      if (page.length < DIRECTORY_PAGE) break;
    }
    return out;
  }

  private refreshBacklog(): void {
    const newest = this.parts.directories(Math.max(0, this.status.sealedHeight), DIRECTORY_PAGE);
    // The last page may be full: the store's tail is then found in later ticks.
    if (newest.length > 0) this.status.sealedHeight = newest[newest.length - 1]!.height;
    this.status.backlog = Math.max(0, this.status.sealedHeight - this.status.anchoredHeight);
  }
}

function windowStatus(window: WindowRecord): AnchorStatus['window'] {
  return { first: window.first, last: window.last, state: window.state, tx: window.tx, nonce: window.nonce, confirmations: window.confirmations };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}

/**
 * What went wrong, in one line. viem's errors open with a generic line ("HTTP
 * request failed.") and keep the cause in `details` ("fetch failed: connect
 * ECONNREFUSED…"), which is what an operator needs.
 */
function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { shortMessage, details } = error as Error & { shortMessage?: unknown; details?: unknown };
  const head = typeof shortMessage === 'string' ? shortMessage : firstLine(error.message);
  const cause = error.cause instanceof Error ? (error.cause.cause instanceof Error ? error.cause.cause.message : error.cause.message) : undefined;
  const detail = typeof details === 'string' && details !== '' ? details : cause;
  return firstLine(detail === undefined || head.includes(detail) ? head : `${head} ${detail}`);
}
