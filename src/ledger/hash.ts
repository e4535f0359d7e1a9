import * as crypto from 'node:crypto';
import { HASH_BYTES } from '../protocol/index.js';

export { HASH_BYTES };

// crypto.hash (one-shot, no Hash object) arrived in Node 20.12; package.json allows 20.11.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256(data: Uint8Array): Buffer {
  if (oneShot) return oneShot('sha256', data, 'buffer');
  return crypto.createHash('sha256').update(data).digest();
}

export function sha256Concat(a: Uint8Array, b: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(a).update(b).digest();
}

export function zeroHash(): Buffer {
  return Buffer.alloc(HASH_BYTES);
}
