// Gateway → client messages of protocol v1 (docs/protocol.md §4.4 "Replies"): each
// a msgpack map. The front door encodes them, the client decodes them.
import type { ErrorCode } from './errors.js';

/** An entry as a client gives it: bytes, or a string whose UTF-8 bytes are the content. */
export type Entry = Uint8Array | string;

export interface AcceptedReply {
  type: 'accepted';
  frame: number;
  seq: number;
  count: number;
  /** count × 32 bytes: the entries' SHA-256 hashes, in order. */
  hashes: Uint8Array;
  /** The answer to a frame sent again with a remembered client frame id (4.8): nothing was written this time. */
  repeat?: true;
  /** On a repeat: its entries are durable already (no `committed` notice follows for them on this connection). */
  committed?: boolean;
}

export interface ErrorReply {
  type: 'error';
  /** The frame's number on its connection; null for errors about the connection. */
  frame: number | null;
  /** A protocol v1 code; a client keeps codes it does not know as strings. */
  code: ErrorCode | (string & {});
  message: string;
  /** For `moved`: the URL of the gateway of the fleet that serves the chain now. */
  location?: string;
}

/** Entry block `height` of the chain (seq … seq+count-1) is durable. */
export interface CommittedNotice {
  type: 'committed';
  height: number;
  seq: number;
  count: number;
  root: Uint8Array;
  block: Uint8Array;
  /** The directory block height that holds this entry block. */
  directory: number;
  /** Present (true) only when the gateway sent this without its standby's copy (fleet.whenStandbyLost "alone", docs/replicas.md). */
  alone?: true;
}

export type Reply = AcceptedReply | ErrorReply | CommittedNotice;
