// The client frame id (docs/protocol.md 4.2, 4.8): 18 bytes in front of a
// frame's entry array — a msgpack fixext 16 of ext type 1 holding 8 bytes of
// producer and n as a big-endian u64 (at most 2^53 − 1). The front door reads
// it, the client package writes it; no Node APIs, so browsers can too.

export const FRAME_ID_MARK = 0xd8;
export const FRAME_ID_EXT_TYPE = 0x01;
export const PRODUCER_BYTES = 8;
/** Bytes of the id in front of the entry array: marker, ext type, producer, n. */
export const FRAME_ID_BYTES = 2 + PRODUCER_BYTES + 8;
const PRODUCER_AT = 2;
const N_AT = PRODUCER_AT + PRODUCER_BYTES;
/** n's high 32 bits at most this: n ≤ 2^53 − 1, the largest a JavaScript client counts to exactly. */
const MAX_N_HIGH = 0x1fffff;

/** A frame's id as read from its first bytes. */
export interface FrameId {
  /** The producer's 8 bytes as 16 lower-case hex digits. */
  producer: string;
  n: number;
}

/** What an id must be; named in the `bad_frame` of a frame that starts like one and is not. */
export const FRAME_ID_RULE =
  'a frame id is a msgpack fixext 16 of type 1 (0xd8 0x01, 8 bytes producer, n as a big-endian u64 of at most 2^53 − 1) followed by the array of entries';

/**
 * The id at the start of a frame whose first byte is FRAME_ID_MARK (the
 * caller's one byte compare is the whole cost for frames without one), or a
 * string naming why those bytes are not an id.
 */
export function readFrameId(bytes: Uint8Array): FrameId | string {
  if (bytes.byteLength < FRAME_ID_BYTES || bytes[1] !== FRAME_ID_EXT_TYPE) return FRAME_ID_RULE;
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_ID_BYTES);
  const high = view.getUint32(N_AT);
  if (high > MAX_N_HIGH) return `${FRAME_ID_RULE}; n is above 2^53 − 1`;
  let producer = '';
  for (let i = PRODUCER_AT; i < N_AT; i++) producer += bytes[i]!.toString(16).padStart(2, '0');
  return { producer, n: high * 2 ** 32 + view.getUint32(N_AT + 4) };
}

/** The 18 bytes of an id: send them, then the entry array, as one message. */
export function encodeFrameId(producer: Uint8Array, n: number): Uint8Array {
  if (producer.byteLength !== PRODUCER_BYTES) throw new RangeError(`a producer is ${PRODUCER_BYTES} bytes, got ${producer.byteLength}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be an integer from 0 to 2^53 − 1, got ${n}`);
  const out = new Uint8Array(FRAME_ID_BYTES);
  const view = new DataView(out.buffer);
  out[0] = FRAME_ID_MARK;
  out[1] = FRAME_ID_EXT_TYPE;
  out.set(producer, PRODUCER_AT);
  view.setUint32(N_AT, Math.floor(n / 2 ** 32));
  view.setUint32(N_AT + 4, n % 2 ** 32);
  return out;
}
