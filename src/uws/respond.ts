// Answering a uWS HTTP request safely: every answer written as the client reads
// it, a body read within its bounds, errors in protocol v1's shape.
import type { HttpResponse } from './types.js';
import { HTTP_STATUS, type ErrorCode } from '../protocol/index.js';

// Every answer goes through sendJson or sendText, which tell the response's
// watcher (the connection guard, which counts requests in flight) that it is
// done. An aborted response tells no one; the guard notices it by itself.

/** Learns when a response is answered. */
export interface ResponseWatcher {
  answered(res: HttpResponse): void;
}

const watchers = new WeakMap<HttpResponse, ResponseWatcher>();

/** `watcher` learns when `res` is answered. */
export function watchResponse(res: HttpResponse, watcher: ResponseWatcher): void {
  watchers.set(res, watcher);
}

function answered(res: HttpResponse): void {
  const watcher = watchers.get(res);
  if (watcher === undefined) return;
  watchers.delete(res);
  watcher.answered(res);
}

type Header = readonly [name: string, value: string];

export function sendJson(res: HttpResponse, status: string, body: unknown, closeConnection = false, headers: readonly Header[] = []): void {
  sendBody(res, status, 'application/json', JSON.stringify(body), closeConnection, headers);
}

/** Headers an error answer carries besides its body: a 401 says how to authenticate (RFC 9110 §11.6.1). */
const ERROR_HEADERS: Partial<Record<ErrorCode, readonly Header[]>> = {
  unauthenticated: [['www-authenticate', 'Bearer realm="chainlanes"']],
};

/** `{error: {code, message}}`, with `location` (the URL of the gateway that serves the chain) for `moved`. */
export function sendError(res: HttpResponse, code: ErrorCode, message: string, status: string = HTTP_STATUS[code], location: string | null = null): void {
  sendJson(res, status, { error: location === null ? { code, message } : { code, message, location } }, false, ERROR_HEADERS[code]);
}

/** Refusal bodies by code and message: a storm of refusals repeats a handful of messages. */
const refusalBodies = new Map<string, Buffer>();
const REFUSAL_BODIES_KEPT = 256;

/** An error answer that also closes the connection: for a client refused before any route ran. */
export function refuse(res: HttpResponse, code: ErrorCode, message: string): void {
  const key = `${code} ${message}`;
  let body = refusalBodies.get(key);
  if (body === undefined) {
    if (refusalBodies.size >= REFUSAL_BODIES_KEPT) refusalBodies.clear();
    body = Buffer.from(JSON.stringify({ error: { code, message } }));
    refusalBodies.set(key, body);
  }
  sendBody(res, HTTP_STATUS[code], 'application/json', body, true, ERROR_HEADERS[code] ?? []);
}

export function sendText(res: HttpResponse, contentType: string, body: string): void {
  sendBody(res, '200 OK', contentType, body, false, []);
}

/** A file's bytes, or none (a 304), with its headers. */
export function sendBytes(res: HttpResponse, status: string, contentType: string, body: Buffer | null, headers: readonly Header[]): void {
  sendBody(res, status, contentType, body ?? Buffer.alloc(0), false, headers);
}

/**
 * Writes a whole response without letting a client that does not read make
 * the gateway hold more than one response for it: what the socket does not
 * take now is written as it drains (tryEnd/onWritable), and while a response
 * is unfinished uWS reads no further pipelined request from that connection.
 * A refusal that closes the connection is small and simply ends.
 */
function sendBody(res: HttpResponse, status: string, contentType: string, text: string | Buffer, closeConnection: boolean, headers: readonly Header[]): void {
  try {
    writeBody(res, status, contentType, text, closeConnection, headers);
  } finally {
    answered(res);
  }
}

function writeBody(res: HttpResponse, status: string, contentType: string, text: string | Buffer, closeConnection: boolean, headers: readonly Header[]): void {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  let done = false;
  let start = 0;
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', contentType);
    for (const [name, value] of headers) res.writeHeader(name, value);
    if (closeConnection) {
      res.end(body, true);
      done = true;
      return;
    }
    start = res.getWriteOffset();
    done = res.tryEnd(body, body.length)[1];
  });
  if (done) return;
  res.onWritable((offset) => {
    const [ok] = res.tryEnd(body.subarray(offset - start), body.length);
    return ok;
  });
  // Replaces any earlier abort handler: from here on only the write is in progress.
  res.onAborted(() => undefined);
}

/** A non-negative integer path segment, or null. */
export function parseIndex(text: string | undefined): number | null {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** The bytes all clients' unfinished input may hold (defence's ClientBuffers). */
export interface InboundBudget {
  reserveInbound(bytes: number): boolean;
  releaseInbound(bytes: number): void;
}

/**
 * Reads a request body up to `limit` bytes, counting it in the inbound total
 * while it is read. Resolves null (after answering) when the body is larger
 * (413), when the inbound total is full (503 busy), or when the client went away.
 */
export function readBody(res: HttpResponse, limit: number, buffers: InboundBudget, onAborted: () => void): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (body: Buffer | null): void => {
      done = true;
      buffers.releaseInbound(size);
      resolve(body);
    };
    res.onAborted(() => {
      if (done) return;
      onAborted();
      finish(null);
    });
    res.onData((chunk, isLast) => {
      if (done) return;
      if (size + chunk.byteLength > limit) {
        sendError(res, 'too_large', `request body exceeds ${limit} bytes`);
        return finish(null);
      }
      if (!buffers.reserveInbound(chunk.byteLength)) {
        sendError(res, 'busy', 'the gateway is reading as much input as limits.maxInboundTotalBytes allows; retry later');
        return finish(null);
      }
      size += chunk.byteLength;
      // uWS reuses the chunk's memory after this callback returns.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) finish(Buffer.concat(chunks, size));
    });
  });
}
