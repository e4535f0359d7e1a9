// The 83 bytes an anchoring transaction carries (DESIGN.md "Anchors").
import { ANCHOR_MAGIC, ANCHOR_PAYLOAD, HASH_BYTES } from '../protocol/index.js';

export interface AnchorPayload {
  first: number;
  last: number;
  /** SHA-256 of the gateway's store identity. */
  gateway: Uint8Array;
  /** RFC 6962 root over the window's directory hashes. */
  root: Uint8Array;
}

export function encodeAnchorPayload(payload: AnchorPayload): Buffer {
  const at = ANCHOR_PAYLOAD;
  if (payload.gateway.length !== HASH_BYTES || payload.root.length !== HASH_BYTES) throw new RangeError('anchor payload: gateway id and root must be 32 bytes');
  if (!Number.isSafeInteger(payload.first) || !Number.isSafeInteger(payload.last) || payload.first < 0 || payload.last < payload.first) {
    throw new RangeError(`anchor payload: bad window ${payload.first}…${payload.last}`);
  }
  const out = Buffer.alloc(at.bytes);
  out.write(ANCHOR_MAGIC, at.magic, 'ascii');
  out.writeBigUInt64BE(BigInt(payload.first), at.first);
  out.writeBigUInt64BE(BigInt(payload.last), at.last);
  out.set(payload.gateway, at.gateway);
  out.set(payload.root, at.root);
  return out;
}
