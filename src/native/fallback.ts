// Pure-JS twin of native/src/addon.cc, used when the addon is missing or disabled. It must
// accept and reject the same arguments and produce the same bytes; test/native proves it.
import { setPriority } from 'node:os';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { isInt32Array, isUint32Array, isUint8Array } from 'node:util/types';
import type { BlockPiece, NativeAddon } from './addon.js';

const DIGEST = 32;

// util/types checks work across realms (vm contexts), like the addon's napi type check.
function uint8Arg(value: unknown, name: string): Uint8Array {
  if (!isUint8Array(value)) throw new TypeError(`${name} must be a Uint8Array`);
  return value;
}

function indexArg(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer`);
  return value;
}

function digestInto(data: Uint8Array, dst: Uint8Array, at: number): void {
  dst.set(createHash('sha256').update(data).digest(), at);
}

/** The argument checks sha256Spans and gatherSpans share, in the addon's order (ParseSpanArgs). */
function checkSpanArgs(fn: string, src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number): void {
  uint8Arg(src, `${fn}: src`);
  if (!isInt32Array(spans)) throw new TypeError(`${fn}: spans must be an Int32Array`);
  indexArg(count, `${fn}: count`);
  uint8Arg(dst, `${fn}: dst`);
  indexArg(dstOffset, `${fn}: dstOffset`);
  if (count > Math.floor(spans.length / 2)) {
    throw new RangeError(`${fn}: count ${count} needs ${count * 2} span slots, spans has ${spans.length}`);
  }
}

/** Checks every span against src, before anything is written, and returns their total length. */
function checkSpans(fn: string, src: Uint8Array, spans: Int32Array, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const off = spans[2 * i] ?? -1;
    const len = spans[2 * i + 1] ?? -1;
    if (off < 0 || len < 0 || off + len > src.length) {
      throw new RangeError(`${fn}: span ${i} [${off}, +${len}) is outside src of length ${src.length}`);
    }
    total += len;
  }
  return total;
}

/** With `within`: every span inside [from, to), each starting at or after the end of the one before (CheckSpansWithin). */
function checkSpansWithin(fn: string, spans: Int32Array, count: number, from: number, to: number): void {
  let end = from;
  for (let i = 0; i < count; i++) {
    const off = spans[2 * i]!;
    const len = spans[2 * i + 1]!;
    if (off < 0 || len < 0 || off < end || off + len > to) {
      throw new RangeError(`${fn}: span ${i} [${off}, +${len}) is not in order inside [${from}, ${to})`);
    }
    end = off + len;
  }
}

function sha256Spans(src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number, from?: number, to?: number): void {
  checkSpanArgs('sha256Spans', src, spans, count, dst, dstOffset);
  if (dstOffset > dst.length || count * DIGEST > dst.length - dstOffset) {
    throw new RangeError(`sha256Spans: dst range [${dstOffset}, ${dstOffset + count * DIGEST}) exceeds dst length ${dst.length}`);
  }
  checkSpans('sha256Spans', src, spans, count);
  if (from !== undefined) checkSpansWithin('sha256Spans', spans, count, indexArg(from, 'sha256Spans: from'), indexArg(to, 'sha256Spans: to'));
  for (let i = 0; i < count; i++) {
    const off = spans[2 * i] ?? 0;
    const len = spans[2 * i + 1] ?? 0;
    digestInto(src.subarray(off, off + len), dst, dstOffset + DIGEST * i);
  }
}

function gatherSpans(src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number, ends?: Uint32Array, endsAt?: number): number {
  checkSpanArgs('gatherSpans', src, spans, count, dst, dstOffset);
  let endsFrom = 0;
  if (ends !== undefined) {
    if (!isUint32Array(ends)) throw new TypeError('gatherSpans: ends must be a Uint32Array');
    endsFrom = indexArg(endsAt, 'gatherSpans: endsAt');
    if (endsFrom > ends.length || count > ends.length - endsFrom) {
      throw new RangeError(`gatherSpans: ${count} ends from ${endsFrom} exceed ends length ${ends.length}`);
    }
  }
  const total = checkSpans('gatherSpans', src, spans, count);
  if (dstOffset > dst.length || total > dst.length - dstOffset) {
    throw new RangeError(`gatherSpans: ${total} bytes from offset ${dstOffset} exceed dst length ${dst.length}`);
  }
  if (ends !== undefined && dstOffset + total > 0xffff_ffff) throw new RangeError('gatherSpans: ends above 2^32-1 do not fit a Uint32Array');
  let at = dstOffset;
  for (let i = 0; i < count; i++) {
    const off = spans[2 * i] ?? 0;
    const len = spans[2 * i + 1] ?? 0;
    dst.set(src.subarray(off, off + len), at);
    at += len;
    if (ends !== undefined) ends[endsFrom + i] = at;
  }
  return total;
}

function copyBytes(src: Uint8Array, srcOffset: number, length: number, dst: Uint8Array, dstOffset: number): void {
  uint8Arg(src, 'copyBytes: src');
  indexArg(srcOffset, 'copyBytes: srcOffset');
  indexArg(length, 'copyBytes: length');
  uint8Arg(dst, 'copyBytes: dst');
  indexArg(dstOffset, 'copyBytes: dstOffset');
  if (srcOffset > src.length || length > src.length - srcOffset) {
    throw new RangeError(`copyBytes: [${srcOffset}, +${length}) is outside src of length ${src.length}`);
  }
  if (dstOffset > dst.length || length > dst.length - dstOffset) {
    throw new RangeError(`copyBytes: [${dstOffset}, +${length}) is outside dst of length ${dst.length}`);
  }
  dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
}

// Prefix and data go into one reused buffer so each hash is a single update() call.
const leafInput = Buffer.alloc(1 + DIGEST, 0x00);
const nodeInput = Buffer.alloc(1 + 2 * DIGEST, 0x01);

function leafHash(data: Uint8Array, at: number, out: Uint8Array, outAt: number): void {
  leafInput.set(data.subarray(at, at + DIGEST), 1);
  digestInto(leafInput, out, outAt);
}

// The inputs are copied out before the digest is written, so `out` may alias them.
function nodeHash(src: Uint8Array, left: number, right: number, out: Uint8Array, outAt: number): void {
  nodeInput.set(src.subarray(left, left + DIGEST), 1);
  nodeInput.set(src.subarray(right, right + DIGEST), 1 + DIGEST);
  digestInto(nodeInput, out, outAt);
}

// Same shape as the addon: bottom-up, pairing left to right, an odd last node carried up
// unchanged, which equals RFC 6962's recursive split at the largest power of two below n.
function merkleRoot(entryHashes: Uint8Array, n: number): Buffer {
  uint8Arg(entryHashes, 'merkleRoot: entryHashes');
  indexArg(n, 'merkleRoot: n');
  if (n > Math.floor(entryHashes.length / DIGEST)) {
    throw new RangeError(`merkleRoot: ${n} leaves need ${n * DIGEST} bytes, entryHashes has ${entryHashes.length}`);
  }
  if (n === 0) return createHash('sha256').digest();
  const root = Buffer.alloc(DIGEST);
  if (n === 1) {
    leafHash(entryHashes, 0, root, 0);
    return root;
  }
  let m = Math.ceil(n / 2);
  const level = Buffer.allocUnsafe(m * DIGEST);
  const pair = Buffer.allocUnsafe(2 * DIGEST);
  for (let i = 0; i < Math.floor(n / 2); i++) {
    leafHash(entryHashes, 2 * i * DIGEST, pair, 0);
    leafHash(entryHashes, (2 * i + 1) * DIGEST, pair, DIGEST);
    nodeHash(pair, 0, DIGEST, level, i * DIGEST);
  }
  if (n % 2 === 1) leafHash(entryHashes, (n - 1) * DIGEST, level, (m - 1) * DIGEST);
  while (m > 1) {
    const half = Math.floor(m / 2);
    // In place: node i is written after nodes 2i and 2i+1 are read, and i <= 2i.
    for (let i = 0; i < half; i++) nodeHash(level, 2 * i * DIGEST, (2 * i + 1) * DIGEST, level, i * DIGEST);
    if (m % 2 === 1) level.copyWithin(half * DIGEST, (m - 1) * DIGEST, m * DIGEST);
    m = half + (m % 2);
  }
  level.copy(root, 0, 0, DIGEST);
  return root;
}

/** The root of m nodes folded in place at level[0..32), as the addon's FoldNodes. */
function foldNodes(level: Buffer, m: number): void {
  let width = m;
  while (width > 1) {
    const half = Math.floor(width / 2);
    for (let i = 0; i < half; i++) nodeHash(level, 2 * i * DIGEST, (2 * i + 1) * DIGEST, level, i * DIGEST);
    if (width % 2 === 1) level.copyWithin(half * DIGEST, (width - 1) * DIGEST, width * DIGEST);
    width = half + (width % 2);
  }
}

/** pieces[i], checked as the addon's ReadPieces checks it. */
function checkPiece(piece: unknown, i: number): BlockPiece {
  const at = `blockBody: pieces[${i}].`;
  if (typeof piece !== 'object' || piece === null) throw new TypeError(`blockBody: pieces[${i}] must be an object`);
  const p = piece as Record<string, unknown>;
  const hashes = uint8Arg(p.hashes, `${at}hashes`);
  if (!isUint32Array(p.ends)) throw new TypeError(`${at}ends must be a Uint32Array`);
  const ends = p.ends;
  const count = indexArg(p.count, `${at}count`);
  const contentStart = indexArg(p.contentStart, `${at}contentStart`);
  const contents = uint8Arg(p.contents, `${at}contents`);
  if (count === 0) throw new RangeError(`${at}count must be at least 1`);
  if (count > Math.floor(hashes.length / DIGEST)) throw new RangeError(`${at}hashes: ${count} entries need ${count * DIGEST} bytes, it has ${hashes.length}`);
  if (count > ends.length) throw new RangeError(`${at}ends: ${count} entries, it has ${ends.length}`);
  let previous = contentStart;
  for (let e = 0; e < count; e++) {
    if (ends[e]! < previous) throw new RangeError(`${at}ends decrease at entry ${e}`);
    previous = ends[e]!;
  }
  if (previous > contents.length) throw new RangeError(`${at}ends: the last end ${previous} is beyond contents of length ${contents.length}`);
  return { hashes, ends, count, contentStart, contents };
}

function checkBlockBodyArgs(pieces: readonly BlockPiece[], chunkLeaves: number, dst: Uint8Array): { checked: BlockPiece[]; count: number; chunks: number } {
  if (!Array.isArray(pieces)) throw new TypeError('blockBody: pieces must be an array');
  if (pieces.length === 0) throw new RangeError('blockBody: a block has at least one piece');
  const checked = pieces.map((p, i) => checkPiece(p, i));
  indexArg(chunkLeaves, 'blockBody: chunkLeaves');
  uint8Arg(dst, 'blockBody: dst');
  if (chunkLeaves === 0 || (chunkLeaves & (chunkLeaves - 1)) !== 0) throw new RangeError('blockBody: chunkLeaves must be a power of two');
  let count = 0;
  let contentBytes = 0;
  for (const p of checked) {
    count += p.count;
    contentBytes += p.ends[p.count - 1]! - p.contentStart;
  }
  if (count > 0xffff_ffff) throw new RangeError('blockBody: count must be 1 to 2^32-1');
  if (contentBytes > 0xffff_ffff) throw new RangeError("blockBody: the contents' ends do not fit u32");
  const chunks = Math.ceil(count / chunkLeaves);
  const need = chunks * DIGEST + count * DIGEST + count * 4 + contentBytes;
  if (dst.length !== need) throw new RangeError(`blockBody: dst has ${dst.length} bytes, the body needs ${need}`);
  return { checked, count, chunks };
}

function blockBody(pieces: readonly BlockPiece[], chunkLeaves: number, dst: Uint8Array): Buffer {
  const { checked, count, chunks } = checkBlockBodyArgs(pieces, chunkLeaves, dst);
  const out = Buffer.from(dst.buffer, dst.byteOffset, dst.length);
  const hashesAt = chunks * DIGEST;
  const endsAt = hashesAt + count * DIGEST;
  const contentsAt = endsAt + count * 4;
  let k = 0;
  let base = 0;
  for (const p of checked) {
    out.set(p.hashes.subarray(0, p.count * DIGEST), hashesAt + k * DIGEST);
    for (let e = 0; e < p.count; e++) out.writeUInt32BE(base + p.ends[e]! - p.contentStart, endsAt + 4 * (k + e));
    const bytes = p.ends[p.count - 1]! - p.contentStart;
    out.set(p.contents.subarray(p.contentStart, p.contentStart + bytes), contentsAt + base);
    k += p.count;
    base += bytes;
  }
  // The chunk roots from the record's own, contiguous copy of the hashes.
  for (let c = 0; c < chunks; c++) {
    const first = c * chunkLeaves;
    const size = Math.min(chunkLeaves, count - first);
    out.set(merkleRoot(out.subarray(hashesAt + first * DIGEST, hashesAt + (first + size) * DIGEST), size), c * DIGEST);
  }
  const level = Buffer.from(out.subarray(0, hashesAt));
  foldNodes(level, chunks);
  return Buffer.from(level.subarray(0, DIGEST));
}

function sha256(data: Uint8Array): Buffer {
  uint8Arg(data, 'sha256: data');
  return createHash('sha256').update(data).digest();
}

// Same argument contract as the addon, but JS cannot set a thread's affinity: never pinned.
// Node's os.setPriority(0, n) is setpriority(PRIO_PROCESS, 0, n), which Linux applies to
// the calling thread alone, so the fallback can do this one for real.
function setThreadNice(nice: number): boolean {
  if (typeof nice !== 'number') throw new TypeError('setThreadNice: nice must be a number');
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new RangeError('setThreadNice: nice must be an integer from -20 to 19');
  try {
    setPriority(0, nice);
    return true;
  } catch {
    return false;
  }
}

// Node has no call for a thread's scheduling policy: the fallback can only say so.
function setThreadRealtime(priority: number): string | null {
  if (typeof priority !== 'number') throw new TypeError('setThreadRealtime: priority must be a number');
  if (!Number.isInteger(priority) || priority < 0 || priority > 99) throw new RangeError('setThreadRealtime: priority must be an integer from 0 to 99');
  return 'real-time scheduling needs the native addon (native/, built by npm install)';
}

// A synchronous write runs on the calling thread, so /proc/thread-self names this thread:
// Linux takes a thread's name there as the addon's pthread_setname_np does.
function nameThread(name: string): boolean {
  if (typeof name !== 'string') throw new TypeError('nameThread: name must be a string');
  if (name.length === 0) throw new TypeError('nameThread: name must not be empty');
  try {
    writeFileSync('/proc/thread-self/comm', Buffer.from(name).subarray(0, 15));
    return true;
  } catch {
    return false;
  }
}

function pinThread(cpus: readonly number[]): boolean {
  if (!Array.isArray(cpus)) throw new TypeError('pinThread: cpus must be an array of CPU indices');
  if (cpus.length === 0) throw new TypeError('pinThread: cpus must not be empty');
  // An index loop, not forEach, so holes in a sparse array are rejected as the addon does.
  for (let i = 0; i < cpus.length; i++) {
    const cpu: unknown = cpus[i];
    if (typeof cpu !== 'number' || !Number.isSafeInteger(cpu) || cpu < 0) {
      throw new TypeError(`pinThread: cpus[${i}] is not a non-negative integer`);
    }
  }
  return false;
}

/** JavaScript has no flock: the store lock falls back to a pid file (src/ledger/store-lock.ts). */
function tryLockFile(): null {
  return null;
}

/** JavaScript cannot reach malloc's settings: the arguments are checked as the addon checks them, and nothing changes. */
function keepFreedMemory(mmapThreshold: number, trimThreshold: number): boolean {
  indexArg(mmapThreshold, 'keepFreedMemory: mmapThreshold');
  indexArg(trimThreshold, 'keepFreedMemory: trimThreshold');
  if (mmapThreshold > 0x7fff_ffff || trimThreshold > 0x7fff_ffff) throw new RangeError('keepFreedMemory: thresholds must be below 2^31');
  return false;
}

/** Node has no posix_fadvise: the argument is checked as the addon checks it, and the cache stays. */
function dropFileCache(fd: number): boolean {
  indexArg(fd, 'dropFileCache: fd');
  if (fd > 0x7fff_ffff) throw new RangeError('dropFileCache: fd must be below 2^31');
  return false;
}

/** A loop's turns cannot be timed from JavaScript without waking it every turn: not measured. */
function watchLoopTurns(slots: Float64Array, boundsNs: Float64Array, counts: number, records: number, recordNs: number): boolean {
  if (!(slots instanceof Float64Array)) throw new TypeError('watchLoopTurns: slots must be a Float64Array');
  if (!(boundsNs instanceof Float64Array)) throw new TypeError('watchLoopTurns: boundsNs must be a Float64Array');
  for (const n of [counts, records, recordNs]) {
    if (typeof n !== 'number' || !(n >= 0)) throw new TypeError('watchLoopTurns: counts, records and recordNs must be non-negative numbers');
  }
  return false;
}

function unwatchLoopTurns(): void {}

export const jsAddon: NativeAddon = Object.freeze({
  pinThread,
  setThreadNice,
  setThreadRealtime,
  nameThread,
  sha256Spans,
  gatherSpans,
  copyBytes,
  merkleRoot,
  blockBody,
  sha256,
  tryLockFile,
  keepFreedMemory,
  dropFileCache,
  watchLoopTurns,
  unwatchLoopTurns,
});
