// Small helpers for uWS HTTP responses.
import type { HttpResponse } from './uws.js';
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

export function sendJson(res: HttpResponse, status: string, body: unknown, closeConnection = false): void {
  try {
    res.cork(() => {
      res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body), closeConnection);
    });
  } finally {
    answered(res);
  }
}

export function sendError(res: HttpResponse, code: ErrorCode, message: string, status: string = HTTP_STATUS[code]): void {
  sendJson(res, status, { error: { code, message } });
}

/** An error answer that also closes the connection: for a client refused before any route ran. */
export function refuse(res: HttpResponse, code: ErrorCode, message: string): void {
  sendJson(res, HTTP_STATUS[code], { error: { code, message } }, true);
}

export function sendText(res: HttpResponse, contentType: string, body: string): void {
  try {
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('content-type', contentType).end(body);
    });
  } finally {
    answered(res);
  }
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
