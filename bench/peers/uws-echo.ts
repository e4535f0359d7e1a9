// The front door's upper bound on this machine: bare uWebSockets.js answering
// every binary frame with a protocol-shaped `accepted` reply, without decoding
// the entries or hashing them (the hashes are zeros). It peeks the entry count
// from the msgpack array header, as chainlanes' front door does, and keeps a
// seq counter per chain, so clients cannot tell it from a gateway except by the
// hashes. Nothing a real gateway could beat on the same socket layer.
import { loadUws } from '../../src/uws/index.js';
import { Packr } from 'msgpackr';
import { chainFromPath, isMain, listeningLine, MAX_FRAME_BYTES, parsePeerArgs } from './common.js';

interface Conn {
  chain: string;
  frame: number;
}

export interface RunningEcho {
  readonly port: number;
  readonly host: string;
  close(): void;
}

const packr = new Packr({ useRecords: false });
// Replies carry count × 32 zero bytes: the same size a hashing gateway sends.
const ZEROS = Buffer.alloc(65536 * 32);

/** Entry count from a msgpack array header (fixarray, array16, array32), or -1. */
export function peekCount(frame: Uint8Array): number {
  const b0 = frame[0];
  if (b0 === undefined) return -1;
  if (b0 >= 0x90 && b0 <= 0x9f) return b0 - 0x90;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (b0 === 0xdc && frame.length >= 3) return view.getUint16(1);
  if (b0 === 0xdd && frame.length >= 5) return view.getUint32(1);
  return -1;
}

function reply(count: number, conn: Conn, seqs: Map<string, number>): Buffer {
  const frame = conn.frame++;
  if (count <= 0 || count * 32 > ZEROS.length) {
    return packr.pack({ type: 'error', frame, code: 'bad_frame', message: 'frame must be a non-empty binary msgpack array' });
  }
  const seq = seqs.get(conn.chain) ?? 0;
  seqs.set(conn.chain, seq + count);
  return packr.pack({ type: 'accepted', frame, seq, count, hashes: ZEROS.subarray(0, count * 32) });
}

export function startUwsEcho(port: number, host = '127.0.0.1'): Promise<RunningEcho> {
  const uWS = loadUws();
  const seqs = new Map<string, number>();
  const app = uWS.App().ws<Conn>('/v1/chains/:name/stream', {
    maxPayloadLength: MAX_FRAME_BYTES,
    // The bench bounds frames in flight, so replies cannot pile up without limit;
    // a generous cap keeps uWS from dropping replies under a burst.
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 120,
    upgrade: (res, req, context) => {
      const chain = chainFromPath(req.getUrl());
      if (chain === undefined) {
        res.writeStatus('404 Not Found').end();
        return;
      }
      res.upgrade<Conn>(
        { chain, frame: 0 },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData();
      const count = isBinary ? peekCount(new Uint8Array(message)) : -1;
      ws.send(reply(count, conn, seqs), true);
    },
  });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) return reject(new Error(`uws-echo: cannot listen on ${host}:${port}`));
      resolve({ port: uWS.us_socket_local_port(socket), host, close: () => uWS.us_listen_socket_close(socket) });
    });
  });
}

async function main(): Promise<void> {
  const { port, host } = parsePeerArgs(process.argv.slice(2));
  const echo = await startUwsEcho(port, host);
  console.log(listeningLine('uws-echo', echo.host, echo.port));
  // Open sockets would keep the loop alive after closing the listen socket; exit outright.
  const stop = (): never => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isMain(import.meta.url)) void main();
