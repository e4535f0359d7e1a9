// Clients that choose what the connection guard looks at: the source address
// (127.0.0.x: every 127/8 address is local on Linux), Host and Origin; and a
// reading of a process's CPU time.
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import WebSocket from 'ws';

export interface ClientOptions {
  /** Source address, e.g. 127.0.0.2. */
  localAddress?: string;
  origin?: string;
  host?: string;
}

export type StreamAttempt =
  { kind: 'open'; ws: WebSocket } | { kind: 'refused'; status: number; body: ErrorBody; connection: string | undefined } | { kind: 'error'; message: string };

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Opens a WebSocket stream, or reports the HTTP answer that refused the upgrade. */
export function tryStream(port: number, chain: string, options: ClientOptions = {}): Promise<StreamAttempt> {
  const headers: Record<string, string> = {};
  if (options.origin !== undefined) headers.origin = options.origin;
  if (options.host !== undefined) headers.host = options.host;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/chains/${chain}/stream`, { localAddress: options.localAddress, headers, handshakeTimeout: 5_000 });
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ kind: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => {
        ws.terminate();
        resolve({ kind: 'refused', status: res.statusCode ?? 0, body: JSON.parse(text) as ErrorBody, connection: res.headers.connection });
      });
    });
    ws.once('error', (error) => resolve({ kind: 'error', message: error.message }));
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
  connection: string | undefined;
}

/**
 * One HTTP request on a connection of its own, with the Host, Origin and
 * source address asked for. It asks for keep-alive, so that `connection` shows
 * whether the gateway closes the connection; the connection is closed after the answer.
 */
export function httpRequest(
  port: number,
  path: string,
  init: ClientOptions & { method?: string; body?: string; contentType?: string } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { connection: 'keep-alive' };
  if (init.origin !== undefined) headers.origin = init.origin;
  if (init.host !== undefined) headers.host = init.host;
  if (init.contentType !== undefined) headers['content-type'] = init.contentType;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers, localAddress: init.localAddress, agent: false, timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection });
          req.destroy();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Closes every open stream and waits until each is closed. */
export async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close();
        }),
    ),
  );
  sockets.length = 0;
}

const CLOCK_TICKS_PER_SEC = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Seconds of CPU (user + system) a process has used so far, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
}

/** Share of one core a process used over `ms` (1 = a full core). */
export async function cpuShare(pid: number, ms = 1_000): Promise<number> {
  const before = cpuSeconds(pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (cpuSeconds(pid) - before) / ((performance.now() - started) / 1000);
}

export function openDescriptorsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
