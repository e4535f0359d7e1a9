// The Ethereum anchor sink's loop, on the anchor thread. One window is formed
// at a time: from the directory hashes sealed since the last window, its
// transaction signed and made durable, sent, watched (and bumped, if it waits
// too long) until it has enough confirmations, and only then is the next
// window formed (it then covers everything sealed meanwhile, so a slow chain
// means bigger windows, not more transactions). Confirmed windows stay watched
// for watchBlocks blocks (WindowFollower). Every RPC failure is retried with
// back-off.
import { ETHEREUM_NETWORK, type AnchorView } from '../protocol/index.js';
import { costView, dayOf } from './costs.js';
import type { EthereumNode, Head } from './ethereum.js';
import { weiToGwei } from './fees.js';
import { encodeAnchorPayload } from './payload.js';
import type { AnchorFaults, AnchorSettings, AnchorStatus, LastWindowCost, WindowStatus } from './types.js';
import { WindowFollower, attemptOf, type FlightNotes } from './window-follower.js';
import { WindowTree } from './window-tree.js';
import { NOT_MINED, type WindowRecord, type WindowStore } from './window-store.js';

/** Directory anchor records from a height on (the ledger's `anchors(from, limit)`). */
export type DirectorySource = (from: number, limit: number) => AnchorView[];

/** Ledger.anchors() answers at most this many per call. */
const DIRECTORY_PAGE = 1000;
/**
 * Windows read per step from the oldest one still watched. Windows are formed
 * one after another's confirmation, so at most about watchBlocks (≤ 1000, the
 * schema's bound) are watched at once; the newest is always read besides.
 */
const MAX_FOLLOWED = 2048;

export interface AnchorLoopParts {
  settings: AnchorSettings;
  node: EthereumNode;
  store: WindowStore;
  directories: DirectorySource;
  /** Entries in directories first…last. */
  entries(first: number, last: number): number;
  gateway: Buffer;
  faults?: AnchorFaults;
  /** Called after every step with the loop's state. */
  report(status: AnchorStatus): void;
  /** Notable events (a reorg, a bump, the fee cap, a re-signed transaction) for the gateway's log. */
  event(event: string, message: string, fields: Record<string, unknown>): void;
}

export class AnchorLoop {
  private follower: WindowFollower | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The head whose chain the watched windows were last checked against. */
  private watchedHead: Head | null = null;
  private readonly status: AnchorStatus;

  constructor(private readonly parts: AnchorLoopParts) {
    const noCosts = costView(parts.store.totalCosts());
    this.status = {
      network: ETHEREUM_NETWORK,
      networkId: null,
      account: parts.node.account.address,
      gateway: parts.gateway.toString('hex'),
      sealedHeight: -1,
      anchoredHeight: -1,
      backlog: 0,
      window: null,
      inFlight: 0,
      watching: 0,
      windowsConfirmed: 0,
      reanchors: 0,
      reorgsAfterConfirmation: 0,
      bumps: 0,
      lastWindow: null,
      costs: { today: noCosts, total: noCosts },
      failures: 0,
      failuresInRow: 0,
      lastError: null,
      retryAt: null,
      steppedAt: null,
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
    this.summarise();
    this.status.steppedAt = Date.now();
    this.parts.report(structuredClone(this.status));
    this.schedule(delay);
  }

  private async step(): Promise<void> {
    const follower = this.follower ?? (this.follower = await this.connect());
    const head = await this.parts.node.head();
    const windows = this.followed();
    // Confirmed windows are checked again only when the chain moved (a new head, or another block at the same height).
    const moved = this.watchedHead?.hash !== head.hash;
    for (const window of windows) {
      if (window.state !== 'confirmed') await follower.fly(window, head);
      else if (moved && !this.watchOver(window, head.number)) await follower.watch(window, head);
    }
    this.watchedHead = head;
    await this.advanceWatch(windows, head.number);
    if (windows.some((w) => w.state !== 'confirmed')) return;
    const formed = await this.form(follower, windows.length === 0 ? 0 : windows.at(-1)!.last + 1);
    if (formed !== null) await follower.fly(formed, head);
  }

  /** The first step that reaches the node: its chain id, checked against anchors.ethereum.networkId. */
  private async connect(): Promise<WindowFollower> {
    const { node, settings } = this.parts;
    const chainId = await node.chainId();
    if (settings.networkId !== null && chainId !== settings.networkId) {
      throw new Error(`the node at anchors.ethereum.rpcUrl is on chain id ${chainId}, not anchors.ethereum.networkId ${settings.networkId}`);
    }
    this.status.networkId = chainId;
    return new WindowFollower({
      settings,
      node,
      store: this.parts.store,
      chainId,
      gateway: this.parts.gateway,
      counts: this.status,
      faults: this.parts.faults ?? { killAfterBumpStored: 0 },
      entries: this.parts.entries,
      event: this.parts.event,
    });
  }

  /** The windows still followed (in flight, or confirmed and maybe still watched), oldest first, and always the newest. */
  private followed(): WindowRecord[] {
    const { store } = this.parts;
    const windows = store.list(store.watchFrom(), MAX_FOLLOWED);
    const latest = store.latest();
    if (latest !== undefined && windows.at(-1)?.first !== latest.first) windows.push(latest);
    return windows;
  }

  /** Confirmed, and watchBlocks blocks past its confirmation: a reorganisation that deep is not looked for. */
  private watchOver(window: WindowRecord, head: number): boolean {
    const { confirmations, watchBlocks } = this.parts.settings;
    return window.state === 'confirmed' && window.blockNumber !== null && head - window.blockNumber + 1 >= confirmations + watchBlocks;
  }

  /** Windows whose watch is over, oldest first without a gap, are not read again. */
  private async advanceWatch(windows: WindowRecord[], head: number): Promise<void> {
    const { store } = this.parts;
    const open = windows.find((w) => !this.watchOver(w, head));
    const from = open?.first ?? (windows.length === 0 ? store.watchFrom() : windows.at(-1)!.last + 1);
    if (from > store.watchFrom()) await store.setWatchFrom(from);
  }

  /** A new window from `first` on, if one is due: signed, and durable before anything is sent. */
  private async form(follower: WindowFollower, first: number): Promise<WindowRecord | null> {
    const { settings, node, store } = this.parts;
    const sealed = this.sealedFrom(first, settings.maxWindowDirectories);
    if (sealed.length === 0) return null;
    const due = sealed.length >= settings.everyDirectories || Date.now() - sealed[0]!.sealedAt >= settings.everySeconds * 1000;
    if (!due) return null;
    const tree = new WindowTree(
      first,
      sealed.map((d) => Buffer.from(d.hash, 'hex')),
    );
    const payload = encodeAnchorPayload({ first, last: tree.last, gateway: this.parts.gateway, root: tree.root });
    const [gas, fees, nonce] = await Promise.all([node.gasFor(payload), follower.firstFees(), node.nonce('pending')]);
    const signed = await node.sign(payload, nonce, this.status.networkId!, gas, fees);
    const record: WindowRecord = {
      first,
      last: tree.last,
      count: tree.count,
      root: tree.root.toString('hex'),
      state: 'signed',
      network: ETHEREUM_NETWORK,
      networkId: this.status.networkId!,
      tx: signed.hash,
      nonce: signed.nonce,
      from: node.account.address,
      attempts: [attemptOf(signed, gas, fees)],
      bumps: 0,
      entries: this.parts.entries(first, tree.last),
      ...NOT_MINED,
      reanchors: 0,
      createdAt: Date.now(),
    };
    await store.put(record);
    return record;
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

  /** The status from the store, after every step, whether it reached the node or not. */
  private summarise(): void {
    const { store } = this.parts;
    const windows = this.followed();
    const inFlight = windows.filter((w) => w.state !== 'confirmed');
    const head = this.watchedHead?.number ?? null;
    const status = this.status;
    status.inFlight = inFlight.length;
    status.watching = windows.filter((w) => w.state === 'confirmed' && (head === null || !this.watchOver(w, head))).length;
    const oldest = inFlight[0];
    status.window = oldest === undefined ? null : windowStatus(oldest, this.follower?.notesOf(oldest) ?? { refused: null, atFeeCap: false });
    status.anchoredHeight = oldest !== undefined ? oldest.first - 1 : (windows.at(-1)?.last ?? status.anchoredHeight);
    status.lastWindow = lastWindowCost(windows.findLast((w) => w.state === 'confirmed')) ?? status.lastWindow;
    status.costs = { today: costView(store.dayCosts(dayOf(Date.now()))), total: costView(store.totalCosts()) };
    this.refreshBacklog();
  }

  private refreshBacklog(): void {
    const newest = this.parts.directories(Math.max(0, this.status.sealedHeight), DIRECTORY_PAGE);
    // The last page may be full: the store's tail is then found in later ticks.
    if (newest.length > 0) this.status.sealedHeight = newest[newest.length - 1]!.height;
    this.status.backlog = Math.max(0, this.status.sealedHeight - this.status.anchoredHeight);
  }
}

function windowStatus(window: WindowRecord, notes: FlightNotes): WindowStatus {
  const newest = window.attempts.at(-1)!;
  return {
    first: window.first,
    last: window.last,
    state: window.state,
    tx: window.tx,
    nonce: window.nonce,
    confirmations: window.confirmations,
    attempts: window.attempts.length,
    bumps: window.bumps,
    maxFeePerGasGwei: weiToGwei(BigInt(newest.maxFeePerGas)),
    maxPriorityFeePerGasGwei: weiToGwei(BigInt(newest.maxPriorityFeePerGas)),
    atFeeCap: notes.atFeeCap,
    refused: notes.refused,
  };
}

function lastWindowCost(window: WindowRecord | undefined): LastWindowCost | null {
  if (window === undefined) return null;
  const { first, last, tx, bumps, entries, gasUsed, gasPriceWei, feeWei } = window;
  return { first, last, tx, bumps, entries, gasUsed, gasPriceWei, feeWei };
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
