// Where a request's key is (docs/protocol.md §3): `Authorization: Bearer KEY`,
// or `?key=KEY` on a WebSocket URL (browsers cannot set headers there). The
// key is read synchronously in the uWS handler and never logged.
import type { HttpRequest } from './types.js';

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The key `req` presents, or null for none. A header that is not a Bearer
 * credential is returned whole, to be refused as malformed rather than ignored.
 */
export function presentedKey(req: HttpRequest, queryAllowed: boolean): string | null {
  const header = req.getHeader('authorization');
  if (header !== '') return BEARER.exec(header)?.[1] ?? header;
  if (!queryAllowed) return null;
  return new URLSearchParams(req.getQuery() ?? '').get('key');
}
