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

/** The stream protocol's name in `Sec-WebSocket-Protocol`; the gateway answers with it when offered. */
export const STREAM_PROTOCOL = 'chainlanes.v1';
/**
 * A key offered as a subprotocol, `chainlanes.key.KEY`: a browser cannot set
 * `Authorization` on a WebSocket, and a `?key=` lands in every proxy's log.
 * A key is `clk_` and base32, a valid protocol token.
 */
export const KEY_PROTOCOL_PREFIX = 'chainlanes.key.';

/** What the client offered in `Sec-WebSocket-Protocol`, in order. */
export function offeredProtocols(req: HttpRequest): string[] {
  return req
    .getHeader('sec-websocket-protocol')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/**
 * A stream's key: `Authorization: Bearer`, else one offered as a subprotocol,
 * else `?key=`. (The first of these present is the one used.)
 */
export function presentedStreamKey(req: HttpRequest, offered: readonly string[]): string | null {
  if (req.getHeader('authorization') !== '') return presentedKey(req, false);
  const asProtocol = offered.find((p) => p.startsWith(KEY_PROTOCOL_PREFIX));
  if (asProtocol !== undefined) return asProtocol.slice(KEY_PROTOCOL_PREFIX.length);
  return presentedKey(req, true);
}

/** The subprotocol the gateway answers with: chainlanes.v1 if offered, else the first offered that carries no key, else none. Never a key. */
export function answeredProtocol(offered: readonly string[]): string {
  if (offered.includes(STREAM_PROTOCOL)) return STREAM_PROTOCOL;
  return offered.find((p) => !p.startsWith(KEY_PROTOCOL_PREFIX)) ?? '';
}
