// One WebSocket: the `ws` package on Node (every version), the global WebSocket
// elsewhere (browsers). Both are reduced to the events the client needs, with
// binary data as Uint8Array.
//
// Node 22 and 24 have a global WebSocket too, but `ws` is taken there: it sends
// the key in a header instead of the URL, and it tells a refused upgrade's HTTP
// status (404 unknown_chain, 401/403 forbidden), which the WHATWG API hides.
// Node 22's (undici 6) also never fires `close` after a refused handshake, and
// fires `error` again for each close() made from an `error` listener.

import type { Socket as NetSocket } from 'node:net';

export interface SocketEvents {
  open(): void;
  message(data: Uint8Array, isBinary: boolean): void;
  /** Fires exactly once, also when the connection never opened. */
  close(code: number, reason: string, failure?: SocketFailure): void;
}

/**
 * Why a connection attempt failed: for a refused upgrade, the HTTP status and
 * the gateway's own error code and message (docs/protocol.md §5), when it sent them.
 */
export interface SocketFailure {
  status?: number;
  code?: string;
  message: string;
}

/** How much of a refused upgrade's body is read for the gateway's error: its answers are a few hundred bytes. */
const REFUSAL_BODY_BYTES = 4096;
/** How long a refused upgrade's body may take to arrive before the socket is dropped without it. */
const REFUSAL_BODY_MS = 2000;
/** How long a failed write waits for what the gateway sent before it to be read (readBeforeWriteErrors). */
const READ_BEFORE_WRITE_ERROR_MS = 1000;

export interface Socket {
  send(data: Uint8Array): void;
  close(): void;
}

/** The part of the WHATWG WebSocket the client uses. */
interface WhatwgSocket {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}
type WhatwgSocketClass = new (url: string, protocols?: string[]) => WhatwgSocket;

/** The stream protocol's name, offered as a subprotocol; the gateway answers with it. */
const STREAM_PROTOCOL = 'chainlanes.v1';

/**
 * The subprotocols offered: the protocol's name, and the key as
 * `chainlanes.key.KEY` (docs/protocol.md §3.3): a browser cannot set
 * `Authorization` on a WebSocket, and a key in the URL would land in every
 * proxy's log. The gateway never echoes the key.
 */
function protocolsFor(key: string | undefined): string[] {
  return key === undefined ? [STREAM_PROTOCOL] : [STREAM_PROTOCOL, `chainlanes.key.${key}`];
}

function globalWebSocket(): WhatwgSocketClass | undefined {
  return (globalThis as { WebSocket?: WhatwgSocketClass }).WebSocket;
}

function onNode(): boolean {
  return typeof process === 'object' && typeof process.versions?.node === 'string';
}

/** Opens `url`; `key` goes in `Sec-WebSocket-Protocol` (protocolsFor). */
export async function openSocket(url: URL, key: string | undefined, events: SocketEvents): Promise<Socket> {
  const Global = globalWebSocket();
  if (Global !== undefined && !onNode()) return openWhatwg(Global, url, key, events);
  return openWs(url, key, events);
}

/** Exported for tests, which run it with Node's global WebSocket or `ws`'s WHATWG face. */
export function openWhatwg(Impl: WhatwgSocketClass, url: URL, key: string | undefined, events: SocketEvents): Socket {
  const socket = new Impl(url.href, protocolsFor(key));
  socket.binaryType = 'arraybuffer';
  let opened = false;
  socket.addEventListener('open', () => {
    opened = true;
    events.open();
  });
  socket.addEventListener('message', (event) => {
    const data = event.data;
    if (data instanceof ArrayBuffer) events.message(new Uint8Array(data), true);
    else events.message(new TextEncoder().encode(String(data)), false);
  });
  let closed = false;
  const close = (code: number, reason: string): void => {
    if (closed) return;
    closed = true;
    // The WHATWG API hides why a handshake failed; only "it never opened" is known.
    events.close(
      code,
      reason,
      opened ? undefined : { message: 'connection failed (a browser does not say why: a refused key, an unknown chain and an unreachable gateway look alike)' },
    );
  };
  // A handshake that fails fires `error`, then (by the spec, not in every runtime) `close`.
  socket.addEventListener('error', () => {
    if (!opened) close(1006, '');
  });
  socket.addEventListener('close', (event) => close(event.code ?? 1006, event.reason ?? ''));
  return { send: (data) => socket.send(data), close: () => socket.close(1000) };
}

async function openWs(url: URL, key: string | undefined, events: SocketEvents): Promise<Socket> {
  const { default: WebSocket } = await import('ws');
  const socket = new WebSocket(url, protocolsFor(key), { perMessageDeflate: false });
  let failure: SocketFailure | undefined;
  // Before ws writes on the socket: its writes go through readBeforeWriteErrors.
  socket.on('upgrade', (res) => readBeforeWriteErrors(res.socket));
  socket.on('open', () => events.open());
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    events.message(toBytes(data), isBinary);
  });
  socket.on('unexpected-response', (_req, res) => {
    const status = res.statusCode ?? 0;
    failure = { status, message: `the gateway refused the stream with HTTP ${status}` };
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (): void => {
      clearTimeout(timer);
      failure = { status, ...refusalOf(Buffer.concat(chunks).toString('utf8'), status) };
      socket.terminate();
    };
    const timer = setTimeout(done, REFUSAL_BODY_MS);
    res.on('data', (chunk: Buffer) => {
      if (length < REFUSAL_BODY_BYTES) chunks.push(chunk);
      length += chunk.length;
    });
    res.once('end', done);
    res.once('error', done);
  });
  // `error` is always followed by `close`; the close handler reports it.
  socket.on('error', (err: Error) => {
    failure ??= { message: err.message };
  });
  socket.on('close', (code: number, reason: Buffer) => {
    events.close(code, reason.toString('utf8'), failure);
  });
  return {
    send: (data) => socket.send(data),
    close: () => (socket.readyState === WebSocket.CONNECTING ? socket.terminate() : socket.close(1000)),
  };
}

type WriteDone = (error?: Error | null) => void;

/**
 * A write that fails must not throw away what the gateway sent before the
 * connection ended. Behind a proxy (HAProxy, docs/fleet.md) a gateway's
 * close 4001 arrives with the proxy's FIN, and the proxy closes its socket at
 * once: the next frame the client writes is answered with a TCP reset, and
 * the write after it fails (EPIPE). Node destroys the socket on that error,
 * before it has read the close frame (and the replies before it) that sit in
 * the kernel's buffer, and the client would see 1006 with every frame in
 * flight lost instead of 4001 and frames it may send again. So a write error
 * is held until the connection's input has ended (what arrived is read
 * first: replies, the close frame), or READ_BEFORE_WRITE_ERROR_MS at most;
 * meanwhile later writes wait behind it and nothing more is sent.
 */
function readBeforeWriteErrors(socket: NetSocket): void {
  const held =
    (done: WriteDone): WriteDone =>
    (error) => {
      if (error === null || error === undefined || socket.readableEnded || socket.destroyed) return done(error);
      const release = (): void => {
        clearTimeout(timer);
        socket.off('end', release);
        socket.off('close', release);
        done(error);
      };
      const timer = setTimeout(release, READ_BEFORE_WRITE_ERROR_MS);
      socket.once('end', release);
      socket.once('close', release);
    };
  const write = socket._write.bind(socket);
  socket._write = (chunk: unknown, encoding: BufferEncoding, done: WriteDone) => write(chunk, encoding, held(done));
  const writev = socket._writev?.bind(socket);
  if (writev !== undefined) {
    socket._writev = (chunks: { chunk: unknown; encoding: BufferEncoding }[], done: WriteDone) => writev(chunks, held(done));
  }
}

/** The gateway's `{error: {code, message}}` from a refused upgrade's body, or the status alone. */
function refusalOf(body: string, status: number): { code?: string; message: string } {
  try {
    const error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code === 'string' && typeof error.message === 'string') return { code: error.code, message: error.message };
  } catch {
    // Not the gateway's JSON: a proxy's page, say.
  }
  return { message: `the gateway refused the stream with HTTP ${status}` };
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
