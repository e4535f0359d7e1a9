import { backoffDelay, type ReconnectOptions } from './backoff.js';
import { ChainError } from './errors.js';
import { decodeReply, encodeEntries, type CommittedNotice, type Entry, type Reply } from './protocol.js';
import { encodeFrameId, PRODUCER_BYTES } from '../protocol/index.js';
import { openSocket, type Socket, type SocketFailure } from './socket.js';
import { FrameCommits, type FrameCommitStats, type FrameCommitted, type TrackedFrame } from './frame-commits.js';

export type { FrameCommitStats, FrameCommitted } from './frame-commits.js';

export interface ConnectOptions {
  /** API key; sent in `Sec-WebSocket-Protocol` as `chainlanes.key.KEY` (never in the URL). */
  key?: string;
  /** Reconnect after a drop, waiting with exponential back-off plus jitter. Off when absent. */
  reconnect?: ReconnectOptions;
  /**
   * Behind a proxy in front of a fleet of gateways (docs/fleet.md): a frame
   * answered `moved`, or the stream closed with 4001, means another gateway
   * serves the chain now. The client reconnects to the same URL (the proxy
   * routes it to the new owner), sends again, in order, every frame that was
   * refused or never read (none of them left a trace), and goes on: submits
   * resolve as if nothing happened, and seqs continue. Submits made meanwhile
   * wait, at most `maxQueuedFrames`. On by default; `false` turns it off
   * (`moved` then rejects like any error). The back-off is `reconnect`'s, or
   * DEFAULT_MOVE_BACKOFF.
   */
  followMoves?: boolean;
  /**
   * Frames held while following a move (sent again, and submitted meanwhile); past it a submit rejects `busy`. Default 1024.
   * With `frameIds` it bounds every frame the client keeps: accepted and not yet committed, in flight, and held.
   */
  maxQueuedFrames?: number;
  /** Shorthand for `client.on('committed', fn)`. */
  onCommitted?: (notice: CommittedNotice) => void;
  /**
   * Give every frame a client frame id (docs/protocol.md 4.8): 8 random bytes
   * of producer for this client and a count of its frames. With `reconnect`,
   * frames a dropped connection left unanswered are then sent again, in order,
   * on the next connection instead of rejecting `disconnected`: the gateway
   * answers one it already wrote with its first `accepted` (`repeat: true`),
   * so no entry is written twice. Needs a gateway that knows ids. Off by default.
   *
   * Every accepted frame is then also kept until `committed` notices cover
   * all its seqs, and sent again on each new connection (a drop, a 4001 move,
   * a failover behind a proxy) before any new frame; the `frameCommitted`
   * event reports each frame's commit exactly once, with the seqs it was
   * committed at (README "Clients").
   */
  frameIds?: boolean;
}

export interface SubmitResult {
  /** The frame's number on its connection (from 0, restarting on each reconnect). */
  frame: number;
  /** The first entry's sequence number in the chain; the rest follow without gaps. */
  seq: number;
  count: number;
  /** SHA-256 of each entry's content, in order (views into the reply). */
  hashes: Uint8Array[];
  /** The frame was sent again with its id and had been written before: these are its first seqs. */
  repeat?: true;
  /** With `frameIds`: the frame's id (its `n`), which its `frameCommitted` event carries. */
  id?: number;
}

export interface ClientEvents {
  committed: (notice: CommittedNotice) => void;
  /** With `frameIds`: every entry of one frame is durable. Once per frame, whatever reconnections it took. */
  frameCommitted: (frame: FrameCommitted) => void;
  /** A connection opened; `reconnected` is false for the first one. */
  open: (info: { reconnected: boolean }) => void;
  /** The connection dropped (not by `close()`); frames in flight were rejected with `disconnected`. */
  disconnect: (info: { code: number; reason: string }) => void;
  /** Connection-level errors: `error` replies with a null frame, protocol violations. */
  error: (error: ChainError) => void;
}

interface Pending extends TrackedFrame {
  frame: number;
  count: number;
  /** Times it was sent (a frame with an id may be sent again). */
  sends: number;
  /** The frame's bytes, kept to send it again after a move. */
  data: Uint8Array;
  resolve(result: SubmitResult): void;
  reject(error: ChainError): void;
}

/** The back-off while following a move when `reconnect` is not set: the new owner takes over within a handoff. */
export const DEFAULT_MOVE_BACKOFF: ReconnectOptions = { minDelayMs: 50, maxDelayMs: 2_000 };
const DEFAULT_MAX_QUEUED_FRAMES = 1024;
/** A frame with an id answered `busy` after it was sent again is tried this many times in all, then rejected (unless it was accepted once). */
const MAX_REPEAT_SENDS = 8;
/** The gateway's close code for "another gateway serves this chain now" (docs/protocol.md §4.7). */
const MOVED_CLOSE = 4001;

type Listeners = { [E in keyof ClientEvents]: Set<ClientEvents[E]> };

/** A frame not yet sent: `id` is its frame id's n, or -1 without ids. */
function newPending(id: number, count: number, data: Uint8Array, resolve: Pending['resolve'], reject: Pending['reject']): Pending {
  return { id, frame: -1, count, sends: 0, data, resolve, reject, blocks: new Set(), covered: 0 };
}

function splitHashes(hashes: Uint8Array, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => hashes.subarray(i * 32, i * 32 + 32));
}

/**
 * Codes of a refused stream that trying again cannot change: the key, the
 * chain or the rights are wrong. (`moved` and `busy` are not: behind a proxy
 * the next try reaches the chain's owner, or finds it back.)
 */
const FINAL_REFUSALS: ReadonlySet<string> = new Set(['unauthenticated', 'forbidden', 'unknown_chain', 'bad_request']);

/** Why a connection could not be opened, in the gateway's own words where it gave them (docs/protocol.md §5). */
function connectError(url: URL, failure: SocketFailure | undefined): ChainError {
  if (failure?.code !== undefined) return new ChainError(failure.code, failure.message);
  if (failure?.status === 401) return new ChainError('unauthenticated', failure.message);
  if (failure?.status === 403) return new ChainError('forbidden', failure.message);
  // The stream route answers 404 only for a chain it does not have.
  if (failure?.status === 404) return new ChainError('unknown_chain', failure.message);
  const why = failure?.message ?? 'the connection closed before it opened';
  return new ChainError('connect_failed', `cannot open a stream to ${url.host}: ${why}${connectHint(url, why)}`);
}

/** What the usual causes of a failed connection mean, said where the cause is recognisable. */
function connectHint(url: URL, why: string): string {
  if (/self[- ]signed|unable to verify|certificate/i.test(why)) {
    return "; the gateway's certificate is not trusted here: give Node its CA (NODE_EXTRA_CA_CERTS=FILE)";
  }
  if (url.protocol === 'ws:' && /socket hang up|ECONNRESET|Unexpected server response|Invalid WebSocket frame/i.test(why)) {
    return '; a gateway started with --tls-cert speaks only TLS: use https:// (wss://)';
  }
  if (/ECONNREFUSED/.test(why)) return '; is the gateway running, on this host and port?';
  return '';
}

const EVENT_NAMES = ['committed', 'open', 'disconnect', 'error', 'frameCommitted'] as const satisfies readonly (keyof ClientEvents)[];

/**
 * A stream of frames to one chain over one WebSocket. Replies come in the order
 * frames were sent, so the client matches them by counting: the oldest frame in
 * flight owns the next reply.
 */
export class ChainClient {
  private socket: Socket | undefined;
  private open = false;
  private everOpened = false;
  private closedByUser = false;
  /** Why reconnecting stopped for good (the key was revoked, the chain is gone…); submits reject with it. */
  private refused: ChainError | undefined;
  private attempt = 0;
  private nextFrame = 0;
  private inFlight: Pending[] = [];
  /** Following a move: frames to send (again) once a connection opens, in order. */
  private held: Pending[] = [];
  private following = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closeWaiters: (() => void)[] = [];
  private readonly listeners: Listeners = { committed: new Set(), frameCommitted: new Set(), open: new Set(), disconnect: new Set(), error: new Set() };
  /** With `frameIds`: this client's producer, and the next frame's n. */
  private readonly producer: Uint8Array | null;
  private nextId = 0;
  /** With `frameIds`: the accepted frames kept until committed, and each frame's commit reported once. */
  private readonly commits: FrameCommits<Pending> | null;

  /** Use `connect()`. */
  constructor(
    readonly url: URL,
    readonly chain: string,
    private readonly options: ConnectOptions,
  ) {
    if (options.onCommitted !== undefined) this.listeners.committed.add(options.onCommitted);
    this.producer = options.frameIds === true ? globalThis.crypto.getRandomValues(new Uint8Array(PRODUCER_BYTES)) : null;
    this.commits =
      this.producer === null
        ? null
        : new FrameCommits(2 * this.maxQueuedFrames, (frame) => {
            for (const fn of this.listeners.frameCommitted) fn(frame);
          });
  }

  private get maxQueuedFrames(): number {
    return this.options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES;
  }

  /** With `frameIds`: frames kept until committed, and how their answers and commits went; undefined without ids. */
  get frameStats(): Readonly<FrameCommitStats> | undefined {
    return this.commits?.stats;
  }

  /** True while a connection is open and submits can be sent. */
  get connected(): boolean {
    return this.open;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    // Plain JavaScript callers get no type check: a misspelt event is named, not a TypeError from inside.
    if (!(EVENT_NAMES as readonly string[]).includes(event)) {
      throw new ChainError('bad_request', `no event ${JSON.stringify(event)}: the events are ${EVENT_NAMES.join(', ')}`);
    }
    const set = this.listeners[event] as Set<ClientEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Sends one frame of entries. Resolves with their seqs and hashes once the
   * gateway accepts it; rejects with a ChainError whose `code` is the gateway's
   * error code, or `disconnected` / `closed` if no reply can come.
   */
  submit(entries: readonly Entry[]): Promise<SubmitResult> {
    if (this.closedByUser) return Promise.reject(new ChainError('closed', 'the client is closed'));
    if (this.refused !== undefined) return Promise.reject(this.refused);
    const kept = this.keptFrames();
    if (kept !== null) return Promise.reject(kept);
    // While a move is followed, a submit waits its turn behind the frames to send again.
    if (this.following && this.held.length >= this.maxQueuedFrames) {
      return Promise.reject(new ChainError('busy', `${this.held.length} frames wait while the client follows its chain to another gateway; retry later`));
    }
    if (!this.following && (!this.open || this.socket === undefined)) {
      return Promise.reject(new ChainError('disconnected', 'not connected to the gateway'));
    }
    const id = this.producer === null ? -1 : this.nextId++;
    const data = this.withId(id, encodeEntries(entries));
    return new Promise<SubmitResult>((resolve, reject) => {
      const pending = newPending(id, entries.length, data, resolve, reject);
      if (this.following) this.held.push(pending);
      else this.send(pending);
    });
  }

  /** With `frameIds`, `busy` when the frames kept to send again (uncommitted, in flight, held) reach `maxQueuedFrames`. */
  private keptFrames(): ChainError | null {
    if (this.commits === null) return null;
    const kept = this.commits.size + this.inFlight.length + this.held.length;
    if (kept < this.maxQueuedFrames) return null;
    return new ChainError('busy', `${kept} frames are kept until committed (maxQueuedFrames ${this.maxQueuedFrames}); retry once some are committed`);
  }

  /** The frame with the next id in front, when ids are on: it keeps that id however often it is sent. */
  private withId(n: number, entries: Uint8Array): Uint8Array {
    if (this.producer === null) return entries;
    const id = encodeFrameId(this.producer, n);
    const data = new Uint8Array(id.byteLength + entries.byteLength);
    data.set(id);
    data.set(entries, id.byteLength);
    return data;
  }

  /** Sends a frame on the open connection, numbered in it. */
  private send(pending: Pending): void {
    pending.frame = this.nextFrame++;
    pending.sends++;
    this.inFlight.push(pending);
    this.socket!.send(pending.data);
  }

  /** Closes the connection and stops reconnecting. Frames in flight reject with `closed`. */
  close(): Promise<void> {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    this.failInFlight('closed', 'the client was closed');
    this.failHeld('closed', 'the client was closed');
    const socket = this.socket;
    if (socket === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      socket.close();
    });
  }

  /** Opens a connection; the promise settles with its outcome (used for the first one). */
  dial(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let socket: Socket | undefined;
      const mine = (): boolean => socket !== undefined && this.socket === socket;
      openSocket(this.url, this.options.key, {
        open: () => {
          if (!mine()) return;
          this.onOpen();
          resolve();
        },
        message: (data, isBinary) => {
          if (mine()) this.onMessage(data, isBinary);
        },
        close: (code, reason, failure) => {
          if (!mine()) return;
          const refusal = this.open ? null : connectError(this.url, failure);
          this.onClose(code, reason, refusal);
          if (refusal !== null) reject(refusal);
        },
      }).then(
        (s) => {
          // Events need I/O, so they cannot fire before this continuation runs.
          socket = s;
          this.socket = s;
          if (this.closedByUser) s.close(); // close() came while the socket was being created
        },
        (err: unknown) => reject(new ChainError('connect_failed', String(err))),
      );
    });
  }

  private onOpen(): void {
    this.open = true;
    this.attempt = 0;
    this.nextFrame = 0;
    const reconnected = this.everOpened;
    this.everOpened = true;
    // A move followed: what was refused or never read goes first, in order, then what was submitted meanwhile.
    // With ids, in the order of the ids: accepted and not committed, not answered, submitted meanwhile.
    this.following = false;
    if (this.producer !== null) this.held.sort((a, b) => a.id - b.id);
    for (const pending of this.held.splice(0)) this.send(pending);
    for (const fn of this.listeners.open) fn({ reconnected });
  }

  private onMessage(data: Uint8Array, isBinary: boolean): void {
    const reply = isBinary ? decodeReply(data) : undefined;
    if (reply === undefined) return this.violation('the gateway sent a frame that is not a protocol v1 reply');
    if (reply.type === 'committed') {
      for (const fn of this.listeners.committed) fn(reply);
      this.commits?.committed(reply);
      return;
    }
    if (reply.type === 'error' && reply.frame === null) {
      const error = new ChainError(reply.code, reply.message);
      for (const fn of this.listeners.error) fn(error);
      return;
    }
    this.settle(reply);
  }

  /** Hands an `accepted` or frame `error` reply to the oldest frame in flight. */
  private settle(reply: Exclude<Reply, { type: 'committed' }>): void {
    const head = this.inFlight[0];
    if (head === undefined || head.frame !== reply.frame) {
      return this.violation(`reply for frame ${reply.frame} but the oldest frame in flight is ${head?.frame ?? 'none'}`);
    }
    if (reply.type === 'accepted' && reply.count !== head.count) {
      return this.violation(`frame ${head.frame} had ${head.count} entries but ${reply.count} were accepted`);
    }
    this.inFlight.shift();
    if (reply.type === 'error' && reply.code === 'moved' && this.followsMoves) {
      // Refused without a trace: held to send again once the proxy routes us to the new owner.
      // The gateway reads nothing more on this connection and closes it with 4001.
      this.held.push(head);
      this.following = true;
      return;
    }
    // One accepted before is asked until answered (backing off): giving up would lose its commit's report.
    const triesLeft = head.sends <= MAX_REPEAT_SENDS || head.accepted !== undefined;
    if (reply.type === 'error' && reply.code === 'busy' && this.producer !== null && head.sends > 1 && triesLeft) {
      // A frame sent again may still be in work where it was first sent (the gateway says `busy`): ask again shortly.
      return this.sendAgainLater(head);
    }
    if (reply.type === 'error') return this.refusedFrame(head, new ChainError(reply.code, reply.message, reply.frame));
    const hashes = splitHashes(reply.hashes, reply.count);
    const firstAnswer = head.accepted === undefined;
    this.commits?.accepted(head, reply.seq, reply.count, hashes, reply.repeat === true, reply.committed === true);
    if (!firstAnswer) return; // sent again after its submit resolved: only its commit is still owed
    const result: SubmitResult = { frame: reply.frame, seq: reply.seq, count: reply.count, hashes };
    if (reply.repeat === true) result.repeat = true;
    if (this.producer !== null) result.id = head.id;
    head.resolve(result);
  }

  /** A frame refused: its submit rejects, or, when it resolved already (sent again), the application hears of it as an `error`. */
  private refusedFrame(pending: Pending, error: ChainError): void {
    if (pending.accepted === undefined) return pending.reject(error);
    const at = pending.accepted;
    const lost = new ChainError(
      error.code,
      `frame id ${pending.id}, accepted at seq ${at.seq}, was sent again and refused, so its commit cannot be reported: ${error.message}`,
      error.frame,
    );
    for (const fn of this.listeners.error) fn(lost);
  }

  private sendAgainLater(pending: Pending): void {
    setTimeout(
      () => {
        if (this.closedByUser) pending.reject(new ChainError('closed', 'the client was closed'));
        else if (this.following) this.held.push(pending);
        else if (this.open) this.send(pending);
        else this.refusedFrame(pending, new ChainError('disconnected', 'not connected to the gateway'));
      },
      backoffDelay(pending.sends - 2, this.options.reconnect ?? DEFAULT_MOVE_BACKOFF),
    );
  }

  /** Replies can no longer be matched to frames: drop the connection (and maybe reconnect). */
  private violation(message: string): void {
    const error = new ChainError('protocol', message);
    for (const fn of this.listeners.error) fn(error);
    this.socket?.close();
  }

  private get followsMoves(): boolean {
    return this.options.followMoves !== false;
  }

  /** `refusal`: why a connection that never opened failed. */
  private onClose(code: number, reason: string, refusal: ChainError | null): void {
    const wasOpen = this.open;
    this.open = false;
    this.socket = undefined;
    // With ids, frames a dropped connection left unanswered are safe to send again, like those of a move.
    const resends = this.producer !== null && this.options.reconnect !== undefined && code !== MOVED_CLOSE;
    if (wasOpen && resends && !this.closedByUser) for (const fn of this.listeners.disconnect) fn({ code, reason });
    if (wasOpen && ((code === MOVED_CLOSE && this.followsMoves) || resends) && !this.closedByUser) {
      // The gateway answered every frame it read before closing 4001: those it did not answer it never read.
      // In the order they were submitted: those answered `moved`, those sent after them, those submitted since.
      const sent = this.held.filter((p) => p.frame >= 0);
      const waiting = this.held.filter((p) => p.frame < 0);
      // With ids, the frames accepted and not committed go too: a failover may have lost their notices, or them.
      const uncommitted = this.commits?.takeAll() ?? [];
      this.held = [...uncommitted, ...sent, ...this.inFlight.splice(0), ...waiting];
      this.following = true;
    }
    this.failInFlight('disconnected', `connection lost (${code}${reason ? ' ' + reason : ''}) before the reply came`);
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    if (this.following && !this.closedByUser) {
      if (refusal !== null && FINAL_REFUSALS.has(refusal.code)) return this.stopReconnecting(refusal);
      return this.scheduleReconnect(this.options.reconnect ?? DEFAULT_MOVE_BACKOFF);
    }
    if (wasOpen && !this.closedByUser) for (const fn of this.listeners.disconnect) fn({ code, reason });
    if (this.closedByUser || this.options.reconnect === undefined || !this.everOpened) return;
    if (refusal !== null && FINAL_REFUSALS.has(refusal.code)) return this.stopReconnecting(refusal);
    this.scheduleReconnect(this.options.reconnect);
  }

  /** A reconnect the gateway refused for a reason retrying cannot change: said once, as an `error` event, and not tried again. */
  private stopReconnecting(refusal: ChainError): void {
    this.refused = new ChainError(refusal.code, `stopped reconnecting: ${refusal.message}`);
    this.following = false;
    this.failHeld(refusal.code, this.refused.message);
    for (const fn of this.listeners.error) fn(this.refused);
  }

  private failHeld(code: ChainError['code'], message: string): void {
    for (const p of this.held.splice(0)) p.reject(new ChainError(code, message));
  }

  private scheduleReconnect(reconnect: ReconnectOptions): void {
    const delay = backoffDelay(this.attempt++, reconnect);
    this.retryTimer = setTimeout(() => {
      if (!this.closedByUser) this.dial().catch(() => undefined); // a failed dial closes, which reschedules
    }, delay);
  }

  private failInFlight(code: 'disconnected' | 'closed', message: string): void {
    for (const p of this.inFlight.splice(0)) p.reject(new ChainError(code, message, p.frame));
  }
}
