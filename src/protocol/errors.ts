// The error codes of protocol v1 (docs/protocol.md §5 "Errors"): one list,
// used by the front door's WebSocket and HTTP replies and by the client.

export const ERROR_CODES = [
  'busy',
  'bad_frame',
  'bad_request',
  'too_large',
  'unauthenticated',
  'forbidden',
  'credits',
  'unknown_chain',
  'not_found',
  'moved',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The HTTP status line each code is answered with. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, string>> = {
  busy: '503 Service Unavailable',
  bad_frame: '400 Bad Request',
  bad_request: '400 Bad Request',
  too_large: '413 Payload Too Large',
  unauthenticated: '401 Unauthorized',
  forbidden: '403 Forbidden',
  credits: '402 Payment Required',
  unknown_chain: '404 Not Found',
  not_found: '404 Not Found',
  moved: '421 Misdirected Request',
  internal: '500 Internal Server Error',
};

/** A counter per code, all zero: for tallies keyed by every code. */
export function countByErrorCode(): Record<ErrorCode, number> {
  return Object.fromEntries(ERROR_CODES.map((code) => [code, 0])) as Record<ErrorCode, number>;
}
