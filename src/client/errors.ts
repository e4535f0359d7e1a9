import type { ErrorCode as ProtocolErrorCode } from '../protocol/index.js';

/**
 * Why a submit or a connection failed: a protocol v1 code from the gateway
 * (docs/protocol.md §5 "Errors"), or one of the client's own:
 * - `disconnected`: the socket dropped before the reply came. The frame may or
 *   may not have been accepted, so it is NOT resent (that could duplicate entries).
 * - `closed`: the client was closed by `close()`.
 * - `connect_failed`: the first connection could not be opened.
 * - `protocol`: the gateway sent something protocol v1 does not allow.
 */
export type ErrorCode = ProtocolErrorCode | 'disconnected' | 'closed' | 'connect_failed' | 'protocol' | (string & {});

export class ChainError extends Error {
  override readonly name = 'ChainError';
  /** The frame number on its connection, or null for errors about the connection. */
  readonly frame: number | null;

  constructor(
    readonly code: ErrorCode,
    message: string,
    frame: number | null = null,
  ) {
    super(message);
    this.frame = frame;
  }
}
