// The shipping stream's messages (docs/replicas.md part 3, docs/protocol.md
// "Replica stream"): msgpack maps, one per WebSocket message, binary.
//   standby → owner  {type: "hello", owner, acked, store}
//   owner → standby  {type: "seal", directory, head, headKey, blocks: [{chain, record}…], frameIds, credits, superseded?}
//   standby → owner  {type: "durable", directory}
//   either           {type: "error", code, message}, then close
// Both ends read what the other sent as hostile: every field is checked for
// its type and its bound before anything uses it, and a message that is not
// one of these is refused with a named error (ReplicaStreamError).
import { Packr, Unpackr } from 'msgpackr';
import {
  decodeDirectoryHeader,
  directoryRecordBytes,
  directoryRecordHeader,
  FRAME_ID_ROW_BYTES,
  HEAD_RECORD_BYTES,
  truncationMarkProblem,
  type ShippedSeal,
  type TruncationMark,
} from '../ledger/index.js';
import { isChainName } from '../protocol/index.js';

/** At most this many seals sent and not acknowledged `durable` (the owner's memory and the standby's queue are bounded by K seals). */
export const MAX_SEALS_IN_FLIGHT = 8;

/** The error codes of the stream, each a cause. */
export const REPLICA_ERROR_CODES = [
  /** Not a message of this stream (not msgpack, a field missing or of the wrong type, a bound exceeded). */
  'bad_message',
  /** More than MAX_SEALS_IN_FLIGHT seals not acknowledged. */
  'too_many_seals',
  /** The seal does not continue the owner's chain where the standby has it (a check of src/ledger/replica.ts failed): nothing of it is stored. */
  'refused',
  /** The two ends disagree on where they stand (the standby is ahead of the owner, a `durable` for a seal not sent). */
  'out_of_step',
  /** The standby could not store the seal (its disk, its sealer); it says why. */
  'store_failed',
  /** The owner named in the path is not one this gateway stands by for. */
  'not_standby',
] as const;
export type ReplicaErrorCode = (typeof REPLICA_ERROR_CODES)[number];

/** A message refused, naming its cause; `code` goes to the other end in an `error` message. */
export class ReplicaStreamError extends Error {
  override name = 'ReplicaStreamError';
  constructor(
    readonly code: ReplicaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One seal as shipped: the owner's records byte for byte (the ledger's
 * `ShippedSeal`: the whole directory record, the head signed at its size or
 * null, each listed block's chain and record, the blocks' frame id rows), the
 * raw Ed25519 key of the owner's heads (hex, null with heads off) and, later,
 * its credit records.
 *
 * The head key rides in every seal rather than being fetched from the owner's
 * `GET /v1/directory/key`: the stream is already the owner's authenticated
 * voice (the admin key), a second request would be a second way to fail and
 * could race an owner restarted with another key, and 64 hex characters a seal
 * cost nothing. It is no weaker: the standby pins the first key it is given
 * and refuses seals whose heads are signed by another (Ledger.replicate).
 */
export interface SealMessage extends ShippedSeal {
  type: 'seal';
  headKey: string | null;
  /** The chains' credit history records of the seal (authenticated mode), or null. */
  credits: Uint8Array | null;
}

export interface HelloMessage {
  type: 'hello';
  owner: string;
  /** The highest seal of `owner` durable on the standby; -1 for none. */
  acked: number;
  /** The standby's store identity. */
  store: string;
}

export interface DurableMessage {
  type: 'durable';
  directory: number;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export type ReplicaMessage = HelloMessage | SealMessage | DurableMessage | ErrorMessage;

const packr = new Packr({ useRecords: false, variableMapSize: true });
/** Maps as plain objects, binaries as Buffers, no records or extensions a peer could use to make us build other types. */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

const MAX_TEXT = 1024;
const MAX_STORE_ID = 128;
const HEAD_KEY = /^[0-9a-f]{64}$/;

export function encodeMessage(message: ReplicaMessage): Buffer {
  return packr.pack(message);
}

/**
 * A seal message as the pieces it is sent in: the bytes `encodeMessage` gives,
 * but each block's record a piece of its own, not copied. The owner sends the
 * pieces as one message's fragments, so a seal (megabytes) is never gathered
 * into one new buffer on the front door's thread: each such buffer was garbage
 * the thread's collector then had to chase (docs/replicas.md, "What a standby
 * costs"). The other pieces are small: field names, the directory record, the
 * head, the frame ids, the credit records.
 */
export function encodeSealParts(message: SealMessage): { parts: Uint8Array[]; bytes: number } {
  const parts: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  const fields = Object.entries(message).filter(([, value]) => value !== undefined);
  pending.push(mapHeader(fields.length));
  for (const [key, value] of fields) {
    pending.push(packed(key));
    if (key !== 'blocks') {
      pending.push(packed(value));
      continue;
    }
    pending.push(arrayHeader(message.blocks.length));
    for (const { chain, record } of message.blocks) {
      pending.push(mapHeader(2), packed('chain'), packed(chain), packed('record'), binHeader(record.byteLength));
      parts.push(Buffer.concat(pending), record);
      pending = [];
    }
  }
  if (pending.length > 0) parts.push(Buffer.concat(pending));
  return { parts, bytes: parts.reduce((sum, part) => sum + part.byteLength, 0) };
}

/** One value's msgpack bytes, copied out of the packer's buffer (which its next call may reuse). */
function packed(value: unknown): Buffer {
  return Buffer.from(packr.pack(value));
}

// msgpack's container and binary headers, shortest form first, as msgpackr writes them.
function mapHeader(size: number): Buffer {
  return size <= 15 ? Buffer.from([0x80 | size]) : wideHeader(size, 0xde, 0xdf);
}

function arrayHeader(size: number): Buffer {
  return size <= 15 ? Buffer.from([0x90 | size]) : wideHeader(size, 0xdc, 0xdd);
}

function binHeader(length: number): Buffer {
  return length <= 0xff ? Buffer.from([0xc4, length]) : wideHeader(length, 0xc5, 0xc6);
}

/** A type byte and the size big-endian: the 16-bit form up to 0xffff, else the 32-bit one. */
function wideHeader(size: number, sixteen: number, thirtyTwo: number): Buffer {
  const header = Buffer.alloc(size <= 0xffff ? 3 : 5);
  header[0] = size <= 0xffff ? sixteen : thirtyTwo;
  if (size <= 0xffff) header.writeUInt16BE(size, 1);
  else header.writeUInt32BE(size, 1);
  return header;
}

const bad = (what: string): never => {
  throw new ReplicaStreamError('bad_message', what);
};

/** Decodes and checks one message; `maxBlocks` bounds a seal's block list. Throws ReplicaStreamError('bad_message') naming what is wrong. */
export function decodeMessage(bytes: Uint8Array, maxBlocks: number): ReplicaMessage {
  let v: unknown;
  try {
    v = unpackr.unpack(bytes);
  } catch (error) {
    return bad(`not msgpack (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return bad('not a msgpack map');
  const m = v as Record<string, unknown>;
  switch (m.type) {
    case 'hello':
      if (typeof m.owner !== 'string' || m.owner.length > MAX_TEXT) return bad('hello: owner must be a gateway id');
      if (typeof m.store !== 'string' || m.store.length > MAX_STORE_ID) return bad(`hello: store must be a string of at most ${MAX_STORE_ID} characters`);
      return { type: 'hello', owner: m.owner, acked: height(m.acked, 'hello: acked', -1), store: m.store };
    case 'durable':
      return { type: 'durable', directory: height(m.directory, 'durable: directory', 0) };
    case 'error':
      return { type: 'error', code: text(m.code, 'error: code'), message: text(m.message, 'error: message') };
    case 'seal':
      return seal(m, maxBlocks);
    default:
      return bad(`unknown message type ${JSON.stringify(typeof m.type === 'string' ? m.type.slice(0, 32) : m.type)}`);
  }
}

function seal(m: Record<string, unknown>, maxBlocks: number): SealMessage {
  if (!(m.directory instanceof Uint8Array)) return bad('seal: directory must be binary');
  const superseded = mark(m.superseded);
  if (superseded !== undefined) return supersededSeal(m, m.directory, superseded, maxBlocks);
  if (!Array.isArray(m.blocks) || m.blocks.length === 0 || m.blocks.length > maxBlocks)
    return bad(`seal: blocks must be a list of 1 to ${maxBlocks} {chain, record}`);
  const blocks = (m.blocks as unknown[]).map((b, i) => {
    const block = b as { chain?: unknown; record?: unknown } | null;
    if (typeof block !== 'object' || block === null || typeof block.chain !== 'string' || !isChainName(block.chain) || !(block.record instanceof Uint8Array))
      return bad(`seal: block ${i} must be {chain: a chain name, record: binary}`);
    return { chain: block.chain, record: block.record };
  });
  if (m.directory.byteLength !== directoryRecordBytes(blocks.length))
    return bad(`seal: directory must be a directory record listing its ${blocks.length} blocks (${directoryRecordBytes(blocks.length)} bytes)`);
  const frameIds = binaryOrNull(m.frameIds, 'seal: frameIds') ?? new Uint8Array(0);
  if (frameIds.byteLength % FRAME_ID_ROW_BYTES !== 0) return bad(`seal: frameIds must be rows of ${FRAME_ID_ROW_BYTES} bytes`);
  return { type: 'seal', directory: m.directory, ...headParts(m), blocks, frameIds, credits: binaryOrNull(m.credits, 'seal: credits') };
}

/**
 * A superseded directory (docs/replicas.md part 6): its record, its head and
 * its truncation mark, and nothing of the blocks its truncation removed — no
 * block, no frame id, no credit record. Its record's length follows its
 * header's count, which `maxBlocks` bounds as it bounds a seal's blocks.
 */
function supersededSeal(m: Record<string, unknown>, directory: Uint8Array, superseded: TruncationMark, maxBlocks: number): SealMessage {
  if (!Array.isArray(m.blocks) || m.blocks.length > 0) return bad('seal: a superseded seal carries no blocks (blocks must be an empty list)');
  if (binaryOrNull(m.frameIds, 'seal: frameIds')?.byteLength) return bad('seal: a superseded seal carries no frame ids');
  if (binaryOrNull(m.credits, 'seal: credits') !== null) return bad('seal: a superseded seal carries no credit records');
  let count: number;
  try {
    count = decodeDirectoryHeader(directoryRecordHeader(directory)).count;
  } catch (error) {
    return bad(`seal: directory must be a directory record (${error instanceof Error ? error.message : String(error)})`);
  }
  if (count < 1 || count > maxBlocks || directory.byteLength !== directoryRecordBytes(count))
    return bad(`seal: directory must be a directory record listing 1 to ${maxBlocks} blocks, its length following its header's count`);
  return { type: 'seal', directory, ...headParts(m), blocks: [], frameIds: new Uint8Array(0), credits: null, superseded };
}

/** A seal's signed head (a head record or nil) and the key of the owner's heads (hex or nil). */
function headParts(m: Record<string, unknown>): { head: Uint8Array | null; headKey: string | null } {
  const head = binaryOrNull(m.head, 'seal: head');
  if (head !== null && head.byteLength !== HEAD_RECORD_BYTES) return bad(`seal: head must be a signed head record of ${HEAD_RECORD_BYTES} bytes or nil`);
  if (m.headKey !== null && m.headKey !== undefined && (typeof m.headKey !== 'string' || !HEAD_KEY.test(m.headKey)))
    return bad('seal: headKey must be an Ed25519 public key (64 lowercase hex digits) or nil');
  return { head, headKey: (m.headKey as string | null | undefined) ?? null };
}

/** A seal's `superseded` field: absent (nil), or a truncation mark {by, token, at} within its bounds (src/ledger/truncation.ts). */
function mark(v: unknown): TruncationMark | undefined {
  if (v === null || v === undefined) return undefined;
  const problem = truncationMarkProblem(v);
  if (problem !== null) return bad(`seal: superseded must be a truncation mark {by, token, at}: ${problem}`);
  const { by, token, at } = v as TruncationMark;
  return { by, token, at };
}

function height(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return bad(`${what} must be an integer ≥ ${min}`);
  return v;
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT) return bad(`${what} must be a string of at most ${MAX_TEXT} characters`);
  return v;
}

function binaryOrNull(v: unknown, what: string): Uint8Array | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Uint8Array)) return bad(`${what} must be binary or nil`);
  return v;
}
