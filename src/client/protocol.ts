// Protocol v1 frames as the client sees them: it encodes entry arrays and
// decodes the gateway's reply maps, checking their shape so a bad reply becomes
// a `protocol` error instead of a crash further in.
import { Packr, Unpackr } from 'msgpackr';
import { HASH_BYTES, type AcceptedReply, type CommittedNotice, type Entry, type ErrorReply, type Reply } from '../protocol/index.js';

export type { AcceptedReply, CommittedNotice, Entry, ErrorReply, Reply };

// Records are a msgpackr extension other implementations cannot read: plain maps only.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  return packr.pack(entries);
}

function int(value: unknown): number | undefined {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A plain Uint8Array view (msgpackr hands out Buffers in Node; callers get the same type everywhere). */
function bytes(value: unknown, length: number): Uint8Array | undefined {
  if (!(value instanceof Uint8Array) || value.length !== length) return undefined;
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** The reply in `data`, or undefined when it is not a protocol v1 reply. */
export function decodeReply(data: Uint8Array): Reply | undefined {
  let m: unknown;
  try {
    m = unpackr.unpack(data);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const r = m as Record<string, unknown>;
  if (r.type === 'accepted') return accepted(r);
  if (r.type === 'error') return rejected(r);
  if (r.type === 'committed') return committed(r);
  return undefined;
}

function accepted(r: Record<string, unknown>): AcceptedReply | undefined {
  const frame = int(r.frame);
  const seq = int(r.seq);
  const count = int(r.count);
  if (frame === undefined || seq === undefined || count === undefined) return undefined;
  const hashes = bytes(r.hashes, count * HASH_BYTES);
  if (hashes === undefined) return undefined;
  if (r.repeat !== true) return { type: 'accepted', frame, seq, count, hashes };
  return { type: 'accepted', frame, seq, count, hashes, repeat: true, committed: r.committed === true };
}

function rejected(r: Record<string, unknown>): ErrorReply | undefined {
  const frame = r.frame === null || r.frame === undefined ? null : int(r.frame);
  if (frame === undefined || typeof r.code !== 'string') return undefined;
  const message = typeof r.message === 'string' ? r.message : r.code;
  return typeof r.location === 'string'
    ? { type: 'error', frame, code: r.code, message, location: r.location }
    : { type: 'error', frame, code: r.code, message };
}

function committed(r: Record<string, unknown>): CommittedNotice | undefined {
  const height = int(r.height);
  const seq = int(r.seq);
  const count = int(r.count);
  const directory = int(r.directory);
  const root = bytes(r.root, HASH_BYTES);
  const block = bytes(r.block, HASH_BYTES);
  if (height === undefined || seq === undefined || count === undefined || directory === undefined) return undefined;
  if (root === undefined || block === undefined) return undefined;
  // `alone`: the gateway's standby did not have it yet (docs/protocol.md 4.4); passed on so the application can tell.
  return { type: 'committed', height, seq, count, root, block, directory, ...(r.alone === true ? { alone: true as const } : {}) };
}
