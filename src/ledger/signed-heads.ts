// Signed heads as the store keeps them: one row per log size, the newest head
// signed at that size. The ledger stores and serves them; who holds the key and
// how a head is signed is src/heads' business, handed in as a HeadSigner.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, encodeHeadMessage, type SignedHead } from '../protocol/index.js';
import { HASH_BYTES, sha256 } from './hash.js';

export interface SignedHeadRecord {
  size: number;
  time: number;
  root: Buffer;
  signature: Buffer;
}

/** Signs the head {size, root} at the present time (src/heads builds one from the gateway's key). */
export type HeadSigner = (size: number, root: Buffer) => SignedHeadRecord;

/** time u64 ‖ root (32) ‖ signature (64); the size is the row's key. */
export const HEAD_RECORD_BYTES = 8 + HASH_BYTES + ED25519_SIGNATURE_BYTES;

export function encodeHeadRecord(head: SignedHeadRecord): Buffer {
  if (head.root.length !== HASH_BYTES || head.signature.length !== ED25519_SIGNATURE_BYTES)
    throw new RangeError('signed head: root is 32 bytes and signature 64');
  const out = Buffer.allocUnsafe(HEAD_RECORD_BYTES);
  out.writeBigUInt64BE(BigInt(head.time), 0);
  head.root.copy(out, 8);
  head.signature.copy(out, 8 + HASH_BYTES);
  return out;
}

export function decodeHeadRecord(size: number, bytes: Uint8Array): SignedHeadRecord {
  if (bytes.length !== HEAD_RECORD_BYTES) throw new RangeError(`signed head of size ${size}: its record is ${bytes.length} bytes, not ${HEAD_RECORD_BYTES}`);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    size,
    time: Number(buffer.readBigUInt64BE(0)),
    root: Buffer.from(buffer.subarray(8, 8 + HASH_BYTES)),
    signature: Buffer.from(buffer.subarray(8 + HASH_BYTES)),
  };
}

export function signedHeadView(head: SignedHeadRecord): SignedHead {
  return { size: head.size, time: head.time, root: head.root.toString('hex'), signature: head.signature.toString('hex') };
}

/** A KeyObject of a raw 32-byte Ed25519 public key. */
export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/**
 * Checks heads against one raw Ed25519 public key: the check `chainlanes
 * verify` makes of a store's own heads (src/heads/check.ts) and a standby
 * makes of its owner's (replica-store.ts). True when `head` is signed by it.
 */
export function headVerifier(publicKey: Uint8Array): (head: SignedHeadRecord) => boolean {
  const key = publicKeyObject(publicKey);
  const logId = sha256(publicKey);
  return (head) =>
    head.signature.length === ED25519_SIGNATURE_BYTES && verify(null, encodeHeadMessage(logId, head.size, head.time, head.root), key, head.signature);
}
