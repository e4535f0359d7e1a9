// Small helpers for uWS HTTP responses.
import type { HttpResponse } from './uws.js';
import { HTTP_STATUS, type ErrorCode } from '../protocol/index.js';

export function sendJson(res: HttpResponse, status: string, body: unknown): void {
  sendBody(res, status, 'application/json', JSON.stringify(body));
}

export function sendError(res: HttpResponse, code: ErrorCode, message: string, status: string = HTTP_STATUS[code]): void {
  sendJson(res, status, { error: { code, message } });
}

export function sendText(res: HttpResponse, contentType: string, body: string): void {
  sendBody(res, '200 OK', contentType, body);
}

/**
 * Writes a whole response without letting a client that does not read make
 * the gateway hold more than one response for it: what the socket does not
 * take now is written as it drains (tryEnd/onWritable), and while a response
 * is unfinished uWS reads no further pipelined request from that connection.
 */
function sendBody(res: HttpResponse, status: string, contentType: string, text: string): void {
  const body = Buffer.from(text);
  let done = false;
  let start = 0;
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', contentType);
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

/**
 * Reads a request body up to `limit` bytes. Resolves null (after answering
 * 413) when the body is larger, or when the client went away.
 */
export function readBody(res: HttpResponse, limit: number, onAborted: () => void): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onAborted(() => {
      done = true;
      onAborted();
      resolve(null);
    });
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        done = true;
        sendError(res, 'too_large', `request body exceeds ${limit} bytes`);
        resolve(null);
        return;
      }
      // uWS reuses the chunk's memory after this callback returns.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
  });
}
