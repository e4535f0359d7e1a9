// Gateway → client messages of protocol v1 (msgpack maps): docs/protocol.md §4.4.
//
// `accepted` is written by hand: it goes out for every frame, and writing it
// straight from the ring's hash area into the reply saves an intermediate
// copy and an object per frame. The rest go through msgpackr.
import { Packr } from 'msgpackr';
import { HASH_BYTES, type CommittedNotice, type ErrorCode } from '../protocol/index.js';
import { hashing } from '../native/index.js';

const { copyBytes } = hashing;

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** A msgpack fixstr's bytes. */
function fixstr(text: string): number[] {
  return [0xa0 | text.length, ...Buffer.from(text)];
}

/** Every reply's first bytes: a map of 5, `type: "accepted"`, and the key `frame`. */
const ACCEPTED_HEAD = Uint8Array.from([0x85, ...fixstr('type'), ...fixstr('accepted'), ...fixstr('frame')]);
const KEY_SEQ = Uint8Array.from(fixstr('seq'));
const KEY_COUNT = Uint8Array.from(fixstr('count'));
const KEY_HASHES = Uint8Array.from(fixstr('hashes'));
/** The bytes every reply holds whatever its numbers. */
const ACCEPTED_FIXED = ACCEPTED_HEAD.length + KEY_SEQ.length + KEY_COUNT.length + KEY_HASHES.length;
/**
 * `{type: "accepted", frame, seq, count, hashes}` with the hashes copied from
 * `src[hashesAt …]` (the lane ring: shared memory, so copied natively, see
 * copyBytes). Allocated at its exact size: one Buffer per reply, no view of
 * it. Written without Buffer's methods, which Node 20's TurboFan loads through
 * V8's generic property lookup, and without byte loops, which cost ~45
 * instructions a byte in the gateway (docs/architecture.md, "What V8 does not
 * inline on the frame path").
 */
export function encodeAccepted(frame: number, seq: number, count: number, src: Uint8Array, hashesAt: number): Buffer {
  const hashBytes = count * HASH_BYTES;
  const out = Buffer.allocUnsafe(ACCEPTED_FIXED + uintBytes(frame) + uintBytes(seq) + uintBytes(count) + binHeaderBytes(hashBytes) + hashBytes);
  let o = writeBytes(out, 0, ACCEPTED_HEAD);
  o = writeUint(out, o, frame);
  o = writeBytes(out, o, KEY_SEQ);
  o = writeUint(out, o, seq);
  o = writeBytes(out, o, KEY_COUNT);
  o = writeUint(out, o, count);
  o = writeBytes(out, o, KEY_HASHES);
  o = writeBinHeader(out, o, hashBytes);
  copyBytes(src, hashesAt, hashBytes, out, o);
  return out;
}

/** Called, not looked up on each reply: on a Buffer TurboFan finds `set` through V8's generic lookup. */
const setBytes = Uint8Array.prototype.set;

function writeBytes(out: Uint8Array, o: number, bytes: Uint8Array): number {
  setBytes.call(out, bytes, o);
  return o + bytes.length;
}

/** Bytes writeUint takes for n. */
function uintBytes(n: number): number {
  return n < 0x80 ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/** Bytes writeBinHeader takes for a bin of `length`. */
function binHeaderBytes(length: number): number {
  return length <= 0xff ? 2 : length <= 0xffff ? 3 : 5;
}

/** n big-endian in `bytes` bytes (2 or 4) at o. */
function writeBigEndian(out: Uint8Array, o: number, n: number, bytes: number): void {
  for (let i = bytes - 1; i >= 0; i--) {
    out[o + i] = n & 0xff;
    n >>>= 8;
  }
}

/** msgpack's smallest unsigned integer form; above 2^32 uint64 (exact up to 2^53). */
function writeUint(out: Buffer, o: number, n: number): number {
  if (n < 0x80) {
    out[o] = n;
    return o + 1;
  }
  if (n <= 0xffff) {
    out[o] = 0xcd;
    writeBigEndian(out, o + 1, n, 2);
    return o + 3;
  }
  if (n <= 0xffffffff) {
    out[o] = 0xce;
    writeBigEndian(out, o + 1, n, 4);
    return o + 5;
  }
  out[o] = 0xcf;
  out.writeBigUInt64BE(BigInt(n), o + 1);
  return o + 9;
}

function writeBinHeader(out: Uint8Array, o: number, length: number): number {
  if (length <= 0xff) {
    out[o] = 0xc4;
    out[o + 1] = length;
    return o + 2;
  }
  if (length <= 0xffff) {
    out[o] = 0xc5;
    writeBigEndian(out, o + 1, length, 2);
    return o + 3;
  }
  out[o] = 0xc6;
  writeBigEndian(out, o + 1, length, 4);
  return o + 5;
}

/**
 * The `accepted` of a frame sent again with a remembered id (protocol 4.8):
 * the first one's seq, count and hashes, this frame's number, `repeat: true`,
 * and `committed` when its entries were durable already.
 */
export function encodeRepeat(frame: number, seq: number, count: number, hashes: Buffer, committed: boolean): Buffer {
  return packr.pack({ type: 'accepted', frame, seq, count, hashes, repeat: true, committed });
}

/** `{type: "error", frame, code, message}`, with `location` (the owner's URL) for `moved`. */
export function encodeError(frame: number | null, code: ErrorCode, message: string, location: string | null = null): Buffer {
  return packr.pack(location === null ? { type: 'error', frame, code, message } : { type: 'error', frame, code, message, location });
}

/** The notice's fields; both ends share src/protocol's definition. */
export type CommittedFields = Omit<CommittedNotice, 'type'>;

export function encodeCommitted(notice: CommittedFields): Buffer {
  return packr.pack({
    type: 'committed',
    height: notice.height,
    seq: notice.seq,
    count: notice.count,
    root: Buffer.from(notice.root),
    block: Buffer.from(notice.block),
    directory: notice.directory,
    // Only while the standby is lost and `fleet.whenStandbyLost` is "alone" (docs/protocol.md 4.4): absent otherwise.
    ...(notice.alone === true ? { alone: true } : {}),
  });
}
