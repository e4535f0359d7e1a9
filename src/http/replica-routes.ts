// `GET /v1/replica/{owner}/stream` (docs/replicas.md part 3, docs/protocol.md
// "Replica stream"): the WebSocket an owner ships its seals on to this
// gateway, its standby. The operator's, as the handoff routes are: the admin
// key (offered as `chainlanes.key.KEY`, the way gateways of a fleet reach each
// other), or in open mode a client on the loopback. What the stream does is
// the standby's session (src/replicas/standby-session.ts), wired by the
// gateway; this file only admits the upgrade and bounds it: one stream per
// owner, few streams, and no message larger than the largest seal allowed.
import type { Credits } from '../credits/index.js';
import type { Logger } from '../log/index.js';
import {
  answeredProtocol,
  offeredProtocols,
  presentedStreamKey,
  sendError,
  type HttpRequest,
  type HttpResponse,
  type TemplatedApp,
  type us_socket_context_t,
} from '../uws/index.js';
import { operatorOr403 } from './operator.js';

const WHAT = 'replica streams';
/** A standby that cannot keep up must not make its owner buffer without end: uWS drops a socket past this. */
const MAX_BACKPRESSURE_BYTES = 1024 * 1024;
/** A stream silent this long (no seal, no ping) is closed; the owner's side pings well within it. */
const IDLE_TIMEOUT_SECONDS = 120;

/** The standby's end of one stream, as the route drives it. */
export interface ReplicaStreamSession {
  hello(): Promise<void> | void;
  message(bytes: Uint8Array): void;
  closed(): void;
}

export interface ReplicaStreams {
  /** Why this gateway will not take a stream from `owner` now (not its standby, a stream open already), or null. */
  refusal(owner: string): { code: 'forbidden' | 'busy' | 'bad_request'; message: string } | null;
  open(owner: string, socket: { send(bytes: Uint8Array): void; close(code: number, reason: string): void }): ReplicaStreamSession;
}

export interface ReplicaRouteContext {
  log: Logger;
  credits: Credits | null;
  streams: ReplicaStreams;
  /** The largest message an owner may send: the largest seal the configuration allows, with its framing. */
  maxMessageBytes: number;
  /** The connection guard's WebSocket admission (per-address caps); null in tests of the route alone. */
  guard: { admitUpgrade(res: HttpResponse, req: HttpRequest): string | null; release(address: string): void } | null;
}

interface StreamData {
  owner: string;
  address: string | null;
  session: ReplicaStreamSession | null;
  open: boolean;
}

export function addReplicaRoute(app: TemplatedApp, ctx: ReplicaRouteContext): void {
  app.ws<StreamData>('/v1/replica/:owner/stream', {
    compression: 0,
    maxPayloadLength: ctx.maxMessageBytes,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: true,
    idleTimeout: IDLE_TIMEOUT_SECONDS,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => upgrade(ctx, res, req, context),
    open: (ws) => {
      const data = ws.getUserData();
      data.open = true;
      data.session = ctx.streams.open(data.owner, {
        send: (bytes) => {
          if (data.open) ws.send(bytes, true);
        },
        close: (code, reason) => {
          if (data.open) ws.end(code, reason);
        },
      });
      void data.session.hello();
    },
    // uWS lends the message's memory for this call only; the session keeps seals past it, so they are copied —
    // into memory of their own (ArrayBuffer#slice, never Buffer's shared pool), which the sealer thread is then
    // handed rather than sent a copy of (Sealer.replicateSeals, `handOver`).
    message: (ws, message) => ws.getUserData().session?.message(Buffer.from(message.slice(0))),
    close: (ws, code) => {
      const data = ws.getUserData();
      data.open = false;
      data.session?.closed();
      if (data.address !== null) ctx.guard?.release(data.address);
      ctx.log.info({ event: 'replica-stream-closed', owner: data.owner, code }, `the replica stream of gateway "${data.owner}" closed (${code})`);
    },
  });
}

function upgrade(ctx: ReplicaRouteContext, res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
  const address = ctx.guard === null ? null : ctx.guard.admitUpgrade(res, req);
  if (ctx.guard !== null && address === null) return;
  const release = (): void => {
    if (address !== null) ctx.guard?.release(address);
  };
  const offered = offeredProtocols(req);
  if (!operatorOr403(ctx.credits, res, req, WHAT, presentedStreamKey(req, offered))) return release();
  // Gateway ids need no escaping (keys.ts): the path segment is taken as it is, never URI-decoded (a malformed escape must not throw here).
  const owner = req.getParameter(0) ?? '';
  const refusal = ctx.streams.refusal(owner);
  if (refusal !== null) {
    release();
    return sendError(res, refusal.code, refusal.message);
  }
  res.upgrade<StreamData>(
    { owner, address, session: null, open: false },
    req.getHeader('sec-websocket-key'),
    answeredProtocol(offered),
    req.getHeader('sec-websocket-extensions'),
    context,
  );
}
