// Why a credit operation was refused, in protocol v1's terms (docs/protocol.md §5):
// the front door answers it as an HTTP error or a WebSocket `error` reply.
import type { ErrorCode } from '../protocol/index.js';

export interface Refusal {
  readonly refused: true;
  readonly code: ErrorCode;
  readonly message: string;
  /** For `moved`: the URL of the gateway of the fleet that serves the chain. */
  readonly location?: string | null;
}

export function refuse(code: ErrorCode, message: string, location: string | null = null): Refusal {
  return location === null ? { refused: true, code, message } : { refused: true, code, message, location };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && (value as { refused?: unknown }).refused === true;
}
