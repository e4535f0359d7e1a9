// Messages between the hostile scenario (parent) and its attack processes, and
// the kinds of hostile connection they hold (docs/protocol.md §4.3, §4.7, §6.4).

/**
 * - unfinished: a WebSocket frame announced at limits.maxFrameBytes, half of it sent, then nothing
 * - pipelined: raw HTTP requests (`GET /v1/chains?limit=1000`, `GET /healthz`) pipelined, answers never read
 * - flood: 9-byte frames (a one-entry msgpack array) and text frames written as fast as the socket takes them
 * - slow: frames whose replies are large (and text frames, answered with errors), replies never read
 * - squat: a stream to a chain name that does not exist, never written to
 * - idle: a TCP connection that sends nothing at all
 */
export type AttackKind = 'unfinished' | 'pipelined' | 'flood' | 'slow' | 'squat' | 'idle';
export const ATTACK_KINDS: readonly AttackKind[] = ['unfinished', 'pipelined', 'flood', 'slow', 'squat', 'idle'];

/** What each kind does, for tables. */
export const KIND_DESCRIPTIONS: Record<AttackKind, string> = {
  unfinished: 'WebSocket frame announced at maxFrameBytes, half sent, stalled',
  pipelined: 'HTTP GET /v1/chains?limit=1000 and /healthz pipelined, never read',
  flood: '9-byte binary and text frames as fast as the socket takes them',
  slow: 'frames with large replies, then text frames; never reads',
  squat: 'stream to a new chain name, never written to',
  idle: 'TCP connection that sends nothing',
};

export interface AttackInit {
  type: 'init';
  host: string;
  port: number;
  /** Connections of each kind this process holds at once. */
  counts: Record<AttackKind, number>;
  /** Index of this process's first connection, so that chain names and source addresses differ between processes. */
  firstIndex: number;
  /** Chain names start with this. */
  prefix: string;
  /** Local addresses to connect from, in turn (127.0.0.2 … 127.0.0.9): per-address limits see several clients. */
  sourceAddresses: string[];
  /** The gateway's limits.maxFrameBytes: what an unfinished frame announces. */
  maxFrameBytes: number;
  /** Epoch ms at which the attack ends by itself, whatever the parent says. */
  until: number;
  /** Epoch ms by which to report `ready` even if some connections are still opening. */
  readyBy: number;
}

/** Every process has its connections open: start attacking, all kinds at once. */
export interface AttackGo {
  type: 'go';
}

/** End the attack now (close every connection and report). */
export interface AttackStop {
  type: 'stop';
}

export type ToAttacker = AttackInit | AttackGo | AttackStop;

/** Connections are opened quietly first; what each kind does starts with `go`, so the kinds hit the gateway together. */
export interface AttackReady {
  type: 'ready';
  /** Connections open per kind when the first round of opening settled. */
  open: Record<AttackKind, number>;
}

export interface KindStats {
  /** Connections tried: the first of each slot, and reopenings after the gateway closed one. */
  attempts: number;
  /** TCP connected, and for WebSocket kinds upgraded (101). */
  opened: number;
  /** Could not connect or upgrade (refused, reset, no 101 within the time allowed). */
  failed: number;
  /** Of the opened: closed by the gateway (any cause, refusals included). */
  closedByGateway: number;
  /** Open when the attack ended. */
  openAtEnd: number;
  /** Most open at once. */
  peakOpen: number;
  /** WebSocket frames (whole or not) or HTTP requests written. */
  framesSent: number;
  bytesSent: number;
  /** WebSocket messages read, for the kinds that read. */
  messagesRead: number;
  /** Why the gateway closed connections: "1008 the gateway holds as many streams…", "reset", "end", … */
  closeReasons: Record<string, number>;
}

export interface AttackResult {
  kinds: Record<AttackKind, KindStats>;
  /** Share of one core this process used while attacking, and its event-loop utilisation. */
  cpu: number;
  elu: number;
  wallSeconds: number;
}

export interface AttackDone {
  type: 'done';
  result: AttackResult;
}

export type FromAttacker = AttackReady | AttackDone;

export function emptyKindStats(): KindStats {
  return { attempts: 0, opened: 0, failed: 0, closedByGateway: 0, openAtEnd: 0, peakOpen: 0, framesSent: 0, bytesSent: 0, messagesRead: 0, closeReasons: {} };
}

export function perKind<T>(make: (kind: AttackKind) => T): Record<AttackKind, T> {
  return Object.fromEntries(ATTACK_KINDS.map((k) => [k, make(k)])) as Record<AttackKind, T>;
}
