// The client frame id of an HTTP POST of entries (docs/protocol.md 6.5): a
// JSON body cannot carry the 18 bytes a msgpack frame starts with (4.8), so
// the header `Chainlanes-Frame-Id: <producer, 16 hex digits>:<n, decimal>`
// carries the same id, and the body is admitted as if the id were in front.
import { encodeFrameId, FRAME_ID_MARK, PRODUCER_BYTES } from '../protocol/index.js';

/** The header's name as uWebSockets.js reads it (lower case). */
export const FRAME_ID_HEADER = 'chainlanes-frame-id';

const HEADER_FORM = /^([0-9a-fA-F]{16}):(0|[1-9][0-9]{0,15})$/;
const HEADER_RULE = `${FRAME_ID_HEADER} must be "<producer>:<n>": the producer as ${2 * PRODUCER_BYTES} hex digits, n a decimal integer from 0 to 2^53 − 1`;

/** The 18 bytes of the id the header names, or why it names none. */
export function frameIdOfHeader(value: string): Uint8Array | string {
  const match = HEADER_FORM.exec(value.trim());
  const n = match === null ? NaN : Number(match[2]);
  if (match === null || !Number.isSafeInteger(n)) return `${HEADER_RULE}, got ${JSON.stringify(value.slice(0, 80))}`;
  return encodeFrameId(Buffer.from(match[1]!, 'hex'), n);
}

/** `frame` with the header's id in front; why not when the header is malformed or the frame has an id of its own. */
export function withHeaderId(frame: Uint8Array, header: string): Uint8Array | string {
  const id = frameIdOfHeader(header);
  if (typeof id === 'string') return id;
  if (frame[0] === FRAME_ID_MARK) return `the body starts with a frame id of its own; send the id once, in the body or in ${FRAME_ID_HEADER}`;
  return Buffer.concat([id, frame]);
}
