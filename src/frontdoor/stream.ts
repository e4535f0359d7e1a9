// WebSocket ingest: GET /v1/chains/{name}/stream.
//
// Replies leave in the order the client sent its frames: each frame takes the
// next place in the connection's reply queue when it arrives, and the queue is
// sent from its head only as far as replies are ready, whichever lane worker
// finished first.
import type { RingView } from '../ring/index.js';
import type { Admission, FrameOwner, PendingFrame } from './admission.js';
import { Rejection } from './admission.js';
import type { ChainRegistry, ChainState } from './chains.js';
import { CHAIN_NAME_RULE, parseChainName } from '../protocol/index.js';
import { encodeAccepted, encodeError } from './replies.js';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from './uws.js';
import type { us_socket_context_t } from 'uWebSockets.js';
import type { Logger } from '../log/index.js';
import type { ConnectionGuard } from './guard.js';

interface UpgradeData {
  chainPath: string;
  connection: StreamConnection | null;
  /** The client address the connection is counted against (guard.ts), given back at close. */
  address: string;
}

export class StreamConnection implements FrameOwner {
  readonly chain: ChainState;
  private ws: WebSocket<UpgradeData> | null;
  private nextFrame = 0;
  /** Replies by frame number - firstQueued; null until ready. */
  private queue: (Buffer | null)[] = [];
  private head = 0;
  private firstQueued = 0;

  constructor(ws: WebSocket<UpgradeData>, chain: ChainState) {
    this.ws = ws;
    this.chain = chain;
  }

  get open(): boolean { return this.ws !== null; }

  takeFrameNumber(): number {
    this.queue.push(null);
    return this.nextFrame++;
  }

  answer(frame: number, reply: Buffer): void {
    this.queue[frame - this.firstQueued] = reply;
    if (frame - this.firstQueued === this.head) this.flush();
  }

  hashed(frame: PendingFrame, ring: RingView): void {
    if (this.ws === null) return;
    this.answer(frame.frame, encodeAccepted(frame.frame, frame.seq, frame.count, ring.u8, ring.hashesStart(frame.at)));
  }

  committed(notice: Buffer): void {
    this.ws?.send(notice, true);
  }

  closed(): void {
    this.ws = null;
    this.queue = [];
  }

  end(code: number, reason: string): void {
    this.ws?.end(code, reason);
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
  }
}

export interface StreamRouteOptions {
  log: Logger;
  chains: ChainRegistry;
  admission: Admission;
  maxPayloadBytes: number;
  maxOutboundBytes: number;
  connections: Set<StreamConnection>;
  guard: ConnectionGuard;
}

export function addStreamRoute(app: TemplatedApp, options: StreamRouteOptions): void {
  const { chains, admission, connections, guard } = options;
  app.ws<UpgradeData>('/v1/chains/:name/stream', {
    // Frames above the gateway's own limit still arrive (up to twice the limit)
    // so they can be answered `too_large`; beyond that uWS closes with 1009.
    maxPayloadLength: options.maxPayloadBytes * 2,
    maxBackpressure: options.maxOutboundBytes,
    closeOnBackpressureLimit: 1, // typed as a number in this build; any non-zero value turns it on
    idleTimeout: 120,
    sendPingsAutomatically: true,
    compression: 0,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      // A refused upgrade is answered with an HTTP error, before any WebSocket exists (§4.1).
      const address = guard.admitUpgrade(res, req);
      if (address === null) return;
      const data: UpgradeData = { chainPath: req.getParameter(0) ?? '', connection: null, address };
      res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'), context);
    },

    open(ws: WebSocket<UpgradeData>) {
      const data = ws.getUserData();
      const name = parseChainName(data.chainPath);
      if (name === null) return refuse(ws, admission.reject('bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`));
      if (admission.closing) return refuse(ws, admission.reject('busy', 'the gateway is shutting down'));
      const chain = chains.getOrCreate(name);
      if (chain === undefined) {
        return refuse(ws, admission.reject('unknown_chain', `no chain "${name}", and the gateway already serves its limit of ${chains.table.maxChains} chains`));
      }
      data.connection = new StreamConnection(ws, chain);
      connections.add(data.connection);
    },

    message(ws: WebSocket<UpgradeData>, message: ArrayBuffer, isBinary: boolean) {
      const connection = ws.getUserData().connection;
      if (connection === null) return;
      const frame = connection.takeFrameNumber();
      if (!isBinary) {
        const r = admission.reject('bad_frame', 'text frames are not accepted: send a binary msgpack array of entries');
        return connection.answer(frame, encodeError(frame, r.code, r.message));
      }
      let result: PendingFrame | Rejection;
      try {
        result = admission.admit(connection.chain, new Uint8Array(message), connection, frame);
      } catch (error) {
        // A bug, not bad input: the frame is answered and the gateway keeps serving.
        options.log.error({ event: 'internal-error', where: 'admission', chain: connection.chain.name, frame, err: error }, 'internal error while admitting a frame');
        result = admission.reject('internal', 'internal error while admitting the frame; see the gateway log');
      }
      if (result instanceof Rejection) connection.answer(frame, encodeError(frame, result.code, result.message));
    },

    close(ws: WebSocket<UpgradeData>) {
      const data = ws.getUserData();
      guard.release(data.address);
      const connection = data.connection;
      if (connection === null) return;
      connection.closed();
      connections.delete(connection);
    },
  });
}

function refuse(ws: WebSocket<UpgradeData>, rejection: Rejection): void {
  ws.send(encodeError(null, rejection.code, rejection.message), true);
  ws.end(1008, rejection.message.slice(0, 120));
}
