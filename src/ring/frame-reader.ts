// Walks a protocol v1 frame (docs/protocol.md §4.2: a msgpack array of bin/str entries) without
// decoding it into objects. The front door runs it to validate a frame before
// any sequence number is reserved (a rejected frame must leave no trace, so
// every check a frame can fail happens here, synchronously); the spans it
// writes go into the lane ring's record with the frame, so the lanes hash
// each entry without walking the frame again.

export interface FrameLimits {
  maxEntryBytes: number;
  maxEntriesPerFrame: number;
}

export type FrameErrorCode = 'bad_frame' | 'too_large';

export class FrameReader {
  /** Set when scan() returns -1. */
  code: FrameErrorCode = 'bad_frame';
  message = '';
  private readonly limits: FrameLimits;

  constructor(limits: FrameLimits) {
    this.limits = limits;
  }

  /**
   * Checks the frame in bytes[start, end) and returns its entry count, or -1
   * with `code` and `message` set. When `spans` is given, entry i's absolute
   * content offset and length are written at spans[2i], spans[2i + 1].
   */
  scan(bytes: Uint8Array, start: number, end: number, spans: Int32Array | null): number {
    if (end <= start) return this.fail('bad_frame', 'empty frame: expected a msgpack array of entries');
    const head = bytes[start]!;
    let count: number;
    let pos: number;
    if (head >= 0x90 && head <= 0x9f) {
      count = head & 0x0f;
      pos = start + 1;
    } else if (head === 0xdc) {
      if (end - start < 3) return this.truncated(0);
      count = (bytes[start + 1]! << 8) | bytes[start + 2]!;
      pos = start + 3;
    } else if (head === 0xdd) {
      if (end - start < 5) return this.truncated(0);
      count = readU32(bytes, start + 1);
      pos = start + 5;
    } else {
      return this.fail('bad_frame', `frame is a msgpack ${typeName(head)}, expected an array of entries`);
    }
    if (count === 0) return this.fail('bad_frame', 'frame holds no entries');
    if (count > this.limits.maxEntriesPerFrame) {
      return this.fail('too_large', `frame holds ${count} entries, more than the limit of ${this.limits.maxEntriesPerFrame}`);
    }
    for (let i = 0; i < count; i++) {
      pos = this.entry(bytes, pos, end, i, spans);
      if (pos < 0) return -1;
    }
    if (pos !== end) return this.fail('bad_frame', `${end - pos} bytes after the last of ${count} entries`);
    return count;
  }

  /** Reads entry i at pos; returns the position after it, or -1. */
  private entry(bytes: Uint8Array, pos: number, end: number, i: number, spans: Int32Array | null): number {
    if (pos >= end) return this.truncated(i);
    const t = bytes[pos]!;
    let headerBytes: number;
    let length: number;
    if (t >= 0xa0 && t <= 0xbf) {
      headerBytes = 1;
      length = t & 0x1f;
    } else if (t === 0xc4 || t === 0xd9) {
      headerBytes = 2;
      if (pos + 2 > end) return this.truncated(i);
      length = bytes[pos + 1]!;
    } else if (t === 0xc5 || t === 0xda) {
      headerBytes = 3;
      if (pos + 3 > end) return this.truncated(i);
      length = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
    } else if (t === 0xc6 || t === 0xdb) {
      headerBytes = 5;
      if (pos + 5 > end) return this.truncated(i);
      length = readU32(bytes, pos + 1);
    } else {
      return this.fail('bad_frame', `entry ${i} is a msgpack ${typeName(t)}; entries must be bin or str`);
    }
    if (length > this.limits.maxEntryBytes) {
      return this.fail('too_large', `entry ${i} has ${length} bytes, more than the limit of ${this.limits.maxEntryBytes}`);
    }
    const contentStart = pos + headerBytes;
    if (contentStart + length > end) return this.truncated(i);
    if (spans !== null) {
      spans[2 * i] = contentStart;
      spans[2 * i + 1] = length;
    }
    return contentStart + length;
  }

  private truncated(i: number): number {
    return this.fail('bad_frame', `truncated msgpack: the frame ends inside entry ${i}`);
  }

  private fail(code: FrameErrorCode, message: string): number {
    this.code = code;
    this.message = message;
    return -1;
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

function typeName(t: number): string {
  if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) return 'integer';
  if (t >= 0x80 && t <= 0x8f) return 'map';
  if (t === 0xde || t === 0xdf) return 'map';
  if (t >= 0x90 && t <= 0x9f) return 'array';
  if (t === 0xdc || t === 0xdd) return 'array';
  if (t >= 0xa0 && t <= 0xbf) return 'str';
  if (t === 0xc0) return 'nil';
  if (t === 0xc2 || t === 0xc3) return 'boolean';
  if (t === 0xca || t === 0xcb) return 'float';
  if (t >= 0xc4 && t <= 0xc6) return 'bin';
  if (t >= 0xd9 && t <= 0xdb) return 'str';
  if ((t >= 0xc7 && t <= 0xc9) || (t >= 0xd4 && t <= 0xd8)) return 'ext';
  return `byte 0x${t.toString(16)}`;
}
