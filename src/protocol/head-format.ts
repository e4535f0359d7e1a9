// Signed heads of the directory log (docs/protocol.md §13): the exact bytes a
// gateway signs with its Ed25519 key, and the bytes a witness co-signs. Shared
// by the gateway that signs, the client and monitor that check, so the layout
// is written once. Pure: no Node, no I/O.
import { HASH_BYTES } from './formats.js';

/** Ed25519 (RFC 8032): a raw public key, and a signature. */
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** ASCII "CL-HEAD1": format 1 of a signed head. */
export const HEAD_MAGIC = 'CL-HEAD1';

/**
 * What the gateway signs: magic ‖ log id (SHA-256 of the gateway's raw public
 * key) ‖ size u64 ‖ time u64 (ms since the epoch) ‖ root (MTH over directory
 * hashes 0 … size − 1).
 */
export const HEAD_MESSAGE = {
  magic: 0,
  logId: 8,
  size: 40,
  time: 48,
  root: 56,
  bytes: 88,
} as const;

/** ASCII "CL-WTNS1": format 1 of a witness's co-signature. */
export const COSIGNATURE_MAGIC = 'CL-WTNS1';

/** What a witness signs: magic ‖ the witness's time u64 (ms) ‖ the head's 88-byte message. */
export const COSIGNATURE_MESSAGE = {
  magic: 0,
  time: 8,
  head: 16,
  bytes: 16 + HEAD_MESSAGE.bytes,
} as const;

/** The 88 bytes of a head (logId: SHA-256 of the signer's raw public key). */
export function encodeHeadMessage(logId: Uint8Array, size: number, time: number, root: Uint8Array): Uint8Array {
  if (logId.length !== HASH_BYTES || root.length !== HASH_BYTES) throw new RangeError('head: log id and root must be 32 bytes');
  const out = new Uint8Array(HEAD_MESSAGE.bytes);
  const view = new DataView(out.buffer);
  out.set(ascii(HEAD_MAGIC), HEAD_MESSAGE.magic);
  out.set(logId, HEAD_MESSAGE.logId);
  view.setBigUint64(HEAD_MESSAGE.size, u64(size, 'size'));
  view.setBigUint64(HEAD_MESSAGE.time, u64(time, 'time'));
  out.set(root, HEAD_MESSAGE.root);
  return out;
}

/** The 104 bytes a witness signs over a head's message. */
export function encodeCosignatureMessage(witnessTime: number, headMessage: Uint8Array): Uint8Array {
  if (headMessage.length !== HEAD_MESSAGE.bytes) throw new RangeError(`co-signature: a head message is ${HEAD_MESSAGE.bytes} bytes`);
  const out = new Uint8Array(COSIGNATURE_MESSAGE.bytes);
  out.set(ascii(COSIGNATURE_MAGIC), COSIGNATURE_MESSAGE.magic);
  new DataView(out.buffer).setBigUint64(COSIGNATURE_MESSAGE.time, u64(witnessTime, 'witness time'));
  out.set(headMessage, COSIGNATURE_MESSAGE.head);
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function u64(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`head: ${what} must be a non-negative safe integer`);
  return BigInt(n);
}
