// The gateway a user would write instead of chainlanes: one thread, the `ws`
// package, node:crypto SHA-256 per entry, msgpackr, a seq counter per chain. It
// speaks protocol v1 `accepted` / `error` replies (no `committed`: it stores
// nothing). It is written the plain, idiomatic way on purpose — no batching
// tricks, no deliberate slowness — so the bench compares against what people run.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Packr, Unpackr } from 'msgpackr';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { chainFromPath, isMain, listeningLine, MAX_FRAME_BYTES, parsePeerArgs } from './common.js';

export interface WsGatewayOptions {
  port?: number;
  host?: string;
}

export interface RunningGateway {
  readonly port: number;
  readonly host: string;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

type Reply =
  { type: 'accepted'; frame: number; seq: number; count: number; hashes: Buffer } | { type: 'error'; frame: number | null; code: string; message: string };

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Entries of a frame, or an error message when the frame is not a non-empty array of bin/str. */
function decodeFrame(data: Buffer): (Uint8Array | string)[] | string {
  let value: unknown;
  try {
    value = unpackr.unpack(data);
  } catch {
    return 'frame is not valid msgpack';
  }
  if (!Array.isArray(value) || value.length === 0) return 'frame must be a non-empty msgpack array';
  for (const entry of value) {
    if (typeof entry !== 'string' && !(entry instanceof Uint8Array)) return 'entries must be msgpack bin or str';
  }
  return value as (Uint8Array | string)[];
}

function hashEntries(entries: readonly (Uint8Array | string)[]): Buffer {
  const hashes = Buffer.allocUnsafe(entries.length * 32);
  entries.forEach((entry, i) => {
    createHash('sha256')
      .update(entry)
      .digest()
      .copy(hashes, i * 32);
  });
  return hashes;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Starts the peer gateway; resolves once it is listening. */
export async function startWsGateway(options: WsGatewayOptions = {}): Promise<RunningGateway> {
  const host = options.host ?? '127.0.0.1';
  const seqs = new Map<string, number>();
  // The limit is enforced by our own check below, so ws must let bigger frames through to it.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES * 4 });
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'unknown_route', message: 'only the v1 stream route is served' } }));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const chain = chainFromPath(req.url ?? '');
    if (chain === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws, chain, seqs));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  return { port: portOf(server), host, close: () => closeAll(server, wss) };
}

function serveConnection(ws: WebSocket, chain: string, seqs: Map<string, number>): void {
  let frame = 0;
  const send = (reply: Reply): void => ws.send(packr.pack(reply));
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const n = frame++;
    const bytes = asBuffer(data);
    if (!isBinary) return send({ type: 'error', frame: n, code: 'bad_frame', message: 'text frames are not accepted' });
    if (bytes.length > MAX_FRAME_BYTES) {
      return send({ type: 'error', frame: n, code: 'too_large', message: `frame exceeds ${MAX_FRAME_BYTES} bytes` });
    }
    const entries = decodeFrame(bytes);
    if (typeof entries === 'string') return send({ type: 'error', frame: n, code: 'bad_frame', message: entries });
    const seq = seqs.get(chain) ?? 0;
    seqs.set(chain, seq + entries.length);
    send({ type: 'accepted', frame: n, seq, count: entries.length, hashes: hashEntries(entries) });
  });
  ws.on('error', () => ws.terminate());
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ws-gateway: not listening on TCP');
  return address.port;
}

async function closeAll(server: Server, wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

async function main(): Promise<void> {
  const { port, host } = parsePeerArgs(process.argv.slice(2));
  const gateway = await startWsGateway({ port, host });
  console.log(listeningLine('ws-gateway', gateway.host, gateway.port));
  const stop = (): void => void gateway.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isMain(import.meta.url)) void main();
