// Small helpers for uWS HTTP responses.
import type { HttpResponse } from './uws.js';
import { HTTP_STATUS, type ErrorCode } from '../protocol/index.js';

export function sendJson(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body));
  });
}

export function sendError(res: HttpResponse, code: ErrorCode, message: string, status: string = HTTP_STATUS[code]): void {
  sendJson(res, status, { error: { code, message } });
}

export function sendText(res: HttpResponse, contentType: string, body: string): void {
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('content-type', contentType).end(body);
  });
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
