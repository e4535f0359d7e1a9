// WebSocket ingest: GET /v1/chains/{name}/stream.
//
// Replies leave in the order the client sent its frames: each frame takes the
// next place in the connection's reply queue when it arrives, and the queue is
// sent from its head only as far as replies are ready, whichever lane worker
// finished first.
import type { RingView } from '../ring/index.js';
import type { Admission, FrameOwner, PendingFrame } from './admission.js';
import { Rejection, Repeat, StoredRepeat, Unclaimed } from './admission.js';
import { MOVED_CLOSE, MOVED_REASON } from './ownership.js';
import { ParkedFrames } from './parked-frames.js';
import type { ChainRegistry, ChainState } from './chains.js';
import { CHAIN_NAME_RULE, parseChainName } from '../protocol/index.js';
import { encodeAccepted, encodeError, encodeRepeat } from './replies.js';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from '../uws/index.js';
import type { Logger } from '../log/index.js';
import type { ClientBuffers, OutboundHolder } from '../defence/index.js';
import type { ConnectionGuard } from '../defence/index.js';
import {
  BARRED_REASON,
  OPEN_UNITS,
  SHED_REASON,
  TURN_COUNTS,
  frameUnits,
  type AddressUse,
  type AddressTurns,
  type EventLoopTurns,
  type FrameCharge,
  type SharedStream,
  type TurnMeter,
} from '../defence/index.js';
import { isRefusal, type CreditBook, type Principal, type Refusal } from '../credits/index.js';
import { answeredProtocol, offeredProtocols, presentedStreamKey } from '../uws/index.js';
import { sendError } from '../uws/index.js';

interface UpgradeData {
  chainPath: string;
  connection: StreamConnection | null;
  /** The client address the connection is counted against (guard.ts), given back at close. */
  address: string;
  /** The address's share of the front door its frames are charged to, once open (null: no share kept). */
  use: AddressUse | null;
  /** Who opened the stream (authenticated mode): checked at the upgrade, charged per frame. */
  principal: Principal | null;
}

export class StreamConnection implements FrameOwner, OutboundHolder, SharedStream {
  readonly chainName: string;
  /** The chain's state once it exists: a stream to a new chain creates it with its first accepted frame. */
  chain: ChainState | undefined;
  /** Who pays for this stream's frames (authenticated mode), and the key they came with. */
  readonly principal: Principal | null;
  private ws: WebSocket<UpgradeData> | null;
  private nextFrame = 0;
  /** Replies by frame number - firstQueued; null until ready. */
  private queue: (Buffer | null)[] = [];
  private head = 0;
  private firstQueued = 0;
  private refusals = 0;
  /** The event-loop turn `burst` counts frames of. */
  private burstTurn = -1;
  private burst = 0;
  /** Set when the connection is being cut off: the close to send once every reply owed has left. */
  private closing: { code: number; reason: string } | null = null;
  /** Frames waiting for the chain's claim (a fleet), in order. */
  readonly parked: ParkedFrames;

  constructor(ws: WebSocket<UpgradeData>, chainName: string, chain: ChainState | undefined, principal: Principal | null, buffers: ClientBuffers) {
    this.ws = ws;
    this.chainName = chainName;
    this.chain = chain;
    this.principal = principal;
    this.parked = new ParkedFrames(buffers);
  }

  get open(): boolean {
    return this.ws !== null;
  }

  /** Frames received whose replies have not been sent yet (in work, or waiting behind one that is). */
  get unanswered(): number {
    return this.nextFrame - this.firstQueued - this.head;
  }

  /**
   * Frames the client has no reply to yet as far as it can know: those not
   * answered, and at least every frame it sent in this event-loop turn (replies
   * written in a turn reach it only after the turn), however fast they were
   * answered. `turn` is the current turn, from `EventLoopTurns`.
   */
  owed(turn: number): number {
    if (turn !== this.burstTurn) {
      this.burstTurn = turn;
      this.burst = 0;
    }
    return Math.max(this.unanswered, this.burst);
  }

  takeFrameNumber(): number {
    this.burst++;
    this.queue.push(null);
    return this.nextFrame++;
  }

  /** Frames refused since the last one admitted. */
  get refusedInRow(): number {
    return this.refusals;
  }

  refuse(frame: number, rejection: Rejection): void {
    this.refusals++;
    this.answer(frame, encodeError(frame, rejection.code, rejection.message, rejection.location));
  }

  /**
   * Another gateway serves the chain now (a handoff, or a claim lost): the
   * connection reads nothing more, sends every reply it owes, and closes with
   * 4001 — the client reconnects through the proxy and sends again what was
   * refused or never read, none of which left a trace.
   */
  moved(): void {
    if (this.closing === null) this.cutOffAfterReplies(MOVED_CLOSE, MOVED_REASON);
  }

  admitted(): void {
    this.refusals = 0;
  }

  answer(frame: number, reply: Buffer): void {
    this.queue[frame - this.firstQueued] = reply;
    if (frame - this.firstQueued === this.head) this.flush();
  }

  /** Queued only: `sendHashed` sends the batch's replies in one go. */
  hashed(frame: PendingFrame, ring: RingView): void {
    if (this.ws === null) return;
    this.queue[frame.frame - this.firstQueued] = encodeAccepted(frame.frame, frame.seq, frame.count, ring.u8, ring.hashesStart(frame.at));
  }

  sendHashed(): void {
    const next = this.queue[this.head];
    if (next !== null && next !== undefined) this.flush();
  }

  committed(notice: Buffer): void {
    this.ws?.send(notice, true);
  }

  closed(): void {
    this.ws = null;
    this.queue = [];
  }

  bufferedBytes(): number {
    return this.ws?.getBufferedAmount() ?? 0;
  }

  /** Closes at once, without a close handshake: the client is not reading, so it would never complete. */
  drop(): void {
    const ws = this.ws;
    if (ws === null) return;
    this.closed();
    ws.close();
  }

  /** Whether the connection is on its way out and reads nothing more. */
  get cutOff(): boolean {
    return this.closing !== null;
  }

  /**
   * Reads nothing more, sends every reply still owed (so no accepted frame goes
   * unreported), then closes with `code`.
   */
  cutOffAfterReplies(code: number, reason: string): void {
    this.closing = { code, reason };
    this.flush();
  }

  cutOffForTurns(reason: string): void {
    if (this.closing === null) this.cutOffAfterReplies(CLOSE_POLICY, reason);
  }

  end(code: number, reason: string): void {
    this.ws?.end(code, reason);
  }

  /** Whether the stream was opened with the key `keyId`. */
  usesKey(keyId: string): boolean {
    return this.principal?.kind === 'account' && this.principal.keyId === keyId;
  }

  /**
   * Its key was revoked: from now on nothing it sends is read. It gets an
   * `error` about the connection, the replies it is owed, then close 1008.
   */
  revoke(message: string): void {
    if (this.ws === null || this.closing !== null) return;
    this.ws.send(encodeError(null, 'unauthenticated', message), true);
    this.cutOffAfterReplies(CLOSE_POLICY, message.slice(0, 120));
  }

  private flush(): void {
    const ws = this.ws;
    if (ws === null) return;
    ws.cork(() => {
      while (this.head < this.queue.length) {
        const reply = this.queue[this.head];
        if (reply === null || reply === undefined) break;
        this.queue[this.head++] = null;
        ws.send(reply, true);
      }
    });
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.firstQueued += this.head;
      this.head = 0;
    }
    if (this.closing !== null && this.unanswered === 0) ws.end(this.closing.code, this.closing.reason);
  }
}

export interface StreamRouteOptions {
  log: Logger;
  chains: ChainRegistry;
  admission: Admission;
  maxPayloadBytes: number;
  maxOutboundBytes: number;
  /** Frames a connection may have unanswered; past it they are refused `busy`, past twice it the connection is closed. */
  maxFramesInFlight: number;
  /** Each stream holds a whole frame's worth of the inbound total while it is open. */
  buffers: ClientBuffers;
  connections: Set<StreamConnection>;
  guard: ConnectionGuard;
  /** The book of credits in authenticated mode, null in open mode. */
  credits: CreditBook | null;
  /** Each client address's share of the front door's time; null: frames are not charged. */
  turns: AddressTurns | null;
  /** Counts what each turn of the front door held (frames, bytes, opens, closes). */
  turnMeter: TurnMeter;
  /** The front door's turns, as the guard and the share count them. */
  loopTurns: EventLoopTurns;
}

/** WebSocket close code for a policy violation (RFC 6455 §7.4.1). */
const CLOSE_POLICY = 1008;

export function addStreamRoute(app: TemplatedApp, options: StreamRouteOptions): void {
  const { chains, admission, connections, maxFramesInFlight, guard } = options;
  const turns = options.loopTurns;
  const counts = options.turnMeter.counts;
  app.ws<UpgradeData>('/v1/chains/:name/stream', {
    // A frame in progress is buffered by uWS until it is whole, so the limit is
    // the gateway's own: past it uWS drops the connection at once rather than
    // buffering up to any size a client announces.
    maxPayloadLength: options.maxPayloadBytes,
    maxBackpressure: options.maxOutboundBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    compression: 0,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      // A refused upgrade is answered with an HTTP error, before any WebSocket exists (§4.1).
      const address = guard.admitUpgrade(res, req);
      if (address === null) return;
      const chainPath = req.getParameter(0) ?? '';
      const offered = offeredProtocols(req);
      // A chain another gateway of the fleet serves: 421 with its URL (or 503 naming it while it is down), before any WebSocket exists.
      const name = parseChainName(chainPath);
      const elsewhere = name === null ? null : admission.servedElsewhere(name);
      if (elsewhere !== null) {
        guard.release(address);
        return sendError(res, elsewhere.code, elsewhere.message, undefined, elsewhere.location);
      }
      let principal: Principal | null = null;
      if (options.credits !== null) {
        // Refused with an HTTP answer before any WebSocket exists: a missing or
        // wrong key (401), a chain that does not exist (404), a non-writer (403).
        const granted = streamPrincipal(options.credits, chainPath, presentedStreamKey(req, offered));
        if (isRefusal(granted)) {
          guard.release(address);
          admission.reject(granted.code, granted.message);
          return sendError(res, granted.code, granted.message);
        }
        principal = granted;
      }
      const data: UpgradeData = { chainPath, connection: null, address, principal, use: null };
      // The answer names the protocol, never a key offered beside it.
      res.upgrade(data, req.getHeader('sec-websocket-key'), answeredProtocol(offered), req.getHeader('sec-websocket-extensions'), context);
    },

    open(ws: WebSocket<UpgradeData>) {
      counts[TURN_COUNTS.opens]!++;
      const data = ws.getUserData();
      const name = parseChainName(data.chainPath);
      if (name === null) return refuse(ws, admission.reject('bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`));
      if (admission.closing) return refuse(ws, admission.reject('busy', 'the gateway is shutting down'));
      if (!options.buffers.reserveInbound(options.maxPayloadBytes)) {
        return refuse(
          ws,
          admission.reject(
            'busy',
            `the gateway holds as many streams as limits.maxInboundTotalBytes allows (each may buffer a frame of limits.maxFrameBytes); retry later`,
          ),
        );
      }
      data.connection = new StreamConnection(ws, name, chains.get(name), data.principal, options.buffers);
      connections.add(data.connection);
      data.use = options.turns?.open(data.address, data.connection) ?? null;
      if (data.use !== null && options.turns?.charge(data.use, OPEN_UNITS, turns.now()) === 'barred') data.connection.cutOffForTurns(BARRED_REASON);
    },

    message(ws: WebSocket<UpgradeData>, message: ArrayBuffer, isBinary: boolean) {
      counts[TURN_COUNTS.frames]!++;
      counts[TURN_COUNTS.frameBytes]! += message.byteLength;
      const data = ws.getUserData();
      const connection = data.connection;
      if (connection === null || connection.cutOff) {
        counts[TURN_COUNTS.framesDropped]!++;
        return;
      }
      // Before any parsing: a client that does not wait for its replies gets
      // `busy`, and one that goes on far past that, or keeps sending frames
      // that are refused, is cut off, so no connection can hold the front door
      // or grow its reply queue without bound. An address that took more than
      // its share of an overloaded turn is cut off too, all its streams; one
      // above its fair share of this turn gets `busy` (shed) below.
      const turn = turns.now();
      const charged: FrameCharge = data.use === null ? 'served' : (options.turns?.charge(data.use, frameUnits(message.byteLength), turn) ?? 'served');
      if (charged === 'barred') return cutOff(connection, admission, BARRED_REASON);
      if (connection.owed(turn) >= 2 * maxFramesInFlight) {
        return cutOff(connection, admission, `more than ${2 * maxFramesInFlight} frames unanswered: the client does not wait for its replies`);
      }
      if (connection.refusedInRow >= 2 * maxFramesInFlight) {
        return cutOff(connection, admission, `${connection.refusedInRow} frames refused in a row: the client does not heed its errors`);
      }
      const frame = connection.takeFrameNumber();
      if (connection.owed(turn) > maxFramesInFlight) {
        return connection.refuse(
          frame,
          admission.reject(
            'busy',
            `${maxFramesInFlight} frames are unanswered on this connection (limits.maxFramesInFlight); wait for replies before sending more`,
          ),
        );
      }
      if (charged === 'shed') {
        options.turns?.shed();
        return connection.refuse(frame, admission.reject('busy', SHED_REASON));
      }
      if (!isBinary) {
        return connection.refuse(frame, admission.reject('bad_frame', 'text frames are not accepted: send a binary msgpack array of entries'));
      }
      const bytes = new Uint8Array(message);
      // Behind a claim in flight, a frame waits its turn, so replies keep their order.
      if (connection.parked.waiting) return park(connection, frame, bytes, admission);
      const result = admitFrame(connection, frame, bytes, options);
      if (result instanceof Unclaimed) {
        park(connection, frame, bytes, admission);
        connection.parked.begin();
        void admission.claim(result.chain).then((refusal) => afterClaim(connection, refusal, options));
      }
    },

    close(ws: WebSocket<UpgradeData>) {
      counts[TURN_COUNTS.closes]!++;
      const data = ws.getUserData();
      guard.release(data.address);
      const connection = data.connection;
      if (connection === null) return;
      if (data.use !== null) options.turns?.close(data.use, connection);
      data.use = null;
      connection.closed();
      connections.delete(connection);
      options.buffers.releaseInbound(options.maxPayloadBytes);
    },
  });
}

/** Admits one frame of the connection and answers a refusal; an `Unclaimed` frame is the caller's to park. */
function admitFrame(
  connection: StreamConnection,
  frame: number,
  bytes: Uint8Array,
  options: StreamRouteOptions,
): PendingFrame | Rejection | Repeat | StoredRepeat {
  const { admission, chains } = options;
  let result: PendingFrame | Rejection | Repeat | StoredRepeat;
  try {
    result = admission.admit(connection.chain ?? connection.chainName, bytes, connection, frame, connection.principal);
  } catch (error) {
    // A bug, not bad input: the frame is answered and the gateway keeps serving.
    options.log.error(
      { event: 'internal-error', where: 'admission', chain: connection.chainName, frame, err: error },
      'internal error while admitting a frame',
    );
    result = admission.reject('internal', 'internal error while admitting the frame; see the gateway log');
  }
  if (result instanceof Unclaimed) return result;
  if (result instanceof Rejection) {
    connection.refuse(frame, result);
    if (result.code === 'moved') connection.moved();
    return result;
  }
  connection.admitted();
  if (result instanceof Repeat) answerRepeat(connection, frame, result);
  // Its hashes come back from the store; later replies wait for this one (frame order).
  if (result instanceof StoredRepeat) void result.answer.then((answer) => answerRepeat(connection, frame, answer));
  connection.chain ??= chains.get(connection.chainName);
  return result;
}

function answerRepeat(connection: StreamConnection, frame: number, repeat: Repeat | Rejection): void {
  if (!connection.open) return;
  if (repeat instanceof Rejection) connection.refuse(frame, repeat);
  else connection.answer(frame, encodeRepeat(frame, repeat.seq, repeat.count, repeat.hashes, repeat.committed));
}

function park(connection: StreamConnection, frame: number, bytes: Uint8Array, admission: Admission): void {
  if (!connection.parked.park(frame, bytes)) {
    connection.refuse(frame, admission.reject('busy', 'the gateway holds as much waiting input as limits.maxInboundTotalBytes allows; retry later'));
  }
}

/**
 * The chain's claim resolved: the frames that waited for it are admitted in
 * order (won), or refused (lost: `moved`, and the connection closes with 4001;
 * not made: `busy`). A connection closed meanwhile drops them: nothing of
 * them was reserved.
 */
function afterClaim(connection: StreamConnection, refusal: Rejection | null, options: StreamRouteOptions): void {
  const frames = connection.parked.end();
  if (!connection.open || connection.cutOff) return;
  for (const { frame, bytes } of frames) {
    if (connection.cutOff) break;
    if (refusal !== null) {
      connection.refuse(frame, options.admission.reject(refusal.code, refusal.message, refusal.location));
      if (refusal.code === 'moved') connection.moved();
      continue;
    }
    const result = admitFrame(connection, frame, bytes, options);
    // Still unclaimed after a won claim: the table lost it meanwhile (a delete in etcd). Nothing was reserved: busy.
    if (result instanceof Unclaimed) connection.refuse(frame, options.admission.reject('busy', result.message));
  }
}

/** Every stream of `chain` is told another gateway serves it now: replies owed, then close 4001. */
export function movedStreams(connections: Iterable<StreamConnection>, chain: string): number {
  let moved = 0;
  for (const connection of connections) {
    if (connection.chainName !== chain) continue;
    connection.moved();
    moved++;
  }
  return moved;
}

/** Who may open a stream to the chain in `chainPath`; a bad name is left to `open` to refuse. */
function streamPrincipal(credits: CreditBook, chainPath: string, key: string | null): Principal | Refusal {
  const principal = credits.authenticate(key);
  if (isRefusal(principal)) return principal;
  const name = parseChainName(chainPath);
  if (name === null) return principal;
  const chain = credits.writable(name, principal);
  return isRefusal(chain) ? chain : principal;
}

/** Revokes every open stream that was opened with `keyId`; returns how many. */
export function revokeStreams(connections: Iterable<StreamConnection>, keyId: string, why: string): number {
  let revoked = 0;
  for (const connection of connections) {
    if (!connection.usesKey(keyId)) continue;
    connection.revoke(why);
    revoked++;
  }
  return revoked;
}

/** This frame and any that follow get no reply: the close says why. */
function cutOff(connection: StreamConnection, admission: Admission, reason: string): void {
  admission.reject('busy', reason);
  connection.cutOffAfterReplies(CLOSE_POLICY, reason.slice(0, 120));
}

function refuse(ws: WebSocket<UpgradeData>, rejection: Rejection): void {
  ws.send(encodeError(null, rejection.code, rejection.message), true);
  ws.end(CLOSE_POLICY, rejection.message.slice(0, 120));
}
