/**
 * Why a submit or a connection failed. Protocol v1 codes come from the gateway
 * (`busy`, `bad_frame`, `too_large`, `credits`, `forbidden`, `unknown_chain`,
 * `internal`); the rest are the client's own:
 * - `disconnected`: the socket dropped before the reply came. The frame may or
 *   may not have been accepted, so it is NOT resent (that could duplicate entries).
 * - `closed`: the client was closed by `close()`.
 * - `connect_failed`: the first connection could not be opened.
 * - `protocol`: the gateway sent something protocol v1 does not allow.
 */
export type ErrorCode =
  | 'busy'
  | 'bad_frame'
  | 'too_large'
  | 'credits'
  | 'forbidden'
  | 'unknown_chain'
  | 'internal'
  | 'disconnected'
  | 'closed'
  | 'connect_failed'
  | 'protocol'
  | (string & {});

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
