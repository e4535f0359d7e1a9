// Checks of the directory log's signed heads (docs/protocol.md §13), trusting
// nothing the gateway says: a head's Ed25519 signature under a key the caller
// trusts, the consistency of two heads, a directory hash's inclusion in a
// head, and a witness's co-signature. Ed25519 is @noble/curves' (RFC 8032,
// strict: not ZIP 215), synchronous, in Node and in browsers alike.
import { ed25519 } from '@noble/curves/ed25519';
import { sha256 } from '@noble/hashes/sha2';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  HASH_BYTES,
  encodeCosignatureMessage,
  encodeHeadMessage,
  type Cosignature,
  type SignedHead,
} from '../protocol/index.js';
import { hex, toHex } from './bytes.js';
import { consistencyProblem, pathRoot } from './tree.js';
import type { VerifyResult } from './result.js';

export type { ConsistencyProofView, Cosignature, HeadKeyView, HeadProof, HeadView, InclusionProofView, SignedHead } from '../protocol/index.js';

/** A public key as the gateway serves it (hex) or as bytes. */
export type PublicKey = string | Uint8Array;

/** The log id in every head a key signs: SHA-256 of the raw 32-byte key, hex. */
export function keyFingerprint(key: PublicKey): string {
  return toHex(sha256(keyBytes(key)));
}

/** Does `head` carry a valid Ed25519 signature by `key` over its message? */
export function verifyHead(head: SignedHead, key: PublicKey): VerifyResult {
  return result(headSignatureProblem(head, key));
}

/**
 * Is the log of `older` a prefix of the log of `newer`, by `path` (from
 * `GET /v1/directory/consistency?from=older.size&to=newer.size`)? Only sizes
 * and roots are compared: check each head's signature with verifyHead.
 */
export function verifyConsistency(older: Pick<SignedHead, 'size' | 'root'>, newer: Pick<SignedHead, 'size' | 'root'>, path: readonly string[]): VerifyResult {
  const fromRoot = hex(older.root, HASH_BYTES);
  const toRoot = hex(newer.root, HASH_BYTES);
  if (fromRoot === null || toRoot === null) return result('a root is not 32 bytes of hex');
  const nodes = hashes(path);
  if (nodes === null) return result('the consistency path is not a list of 32-byte hex hashes');
  return result(consistencyProblem(older.size, newer.size, fromRoot, toRoot, nodes));
}

/** Is the directory hash `hash` at `height` in the log of `head` (by `path`, from GET /v1/directory/inclusion)? */
export function verifyInclusion(hash: string, height: number, head: Pick<SignedHead, 'size' | 'root'>, path: readonly string[]): VerifyResult {
  return result(inclusionProblem(hash, height, head, path));
}

/** Why `path` does not lead from directory hash `hash` at `height` to `head`'s root, or null. */
export function inclusionProblem(hash: string, height: number, head: Pick<SignedHead, 'size' | 'root'>, path: readonly unknown[]): string | null {
  const leaf = hex(hash, HASH_BYTES);
  const root = hex(head.root, HASH_BYTES);
  if (leaf === null || root === null) return 'the directory hash or the head root is not 32 bytes of hex';
  if (!isCount(height) || !isCount(head.size)) return 'height and size must be non-negative integers';
  const nodes = hashes(path);
  if (nodes === null) return 'the head path is not a list of 32-byte hex hashes';
  const computed = pathRoot(leaf, height, head.size, nodes);
  if (computed === null) return `the head path does not fit directory ${height} in a log of ${head.size}`;
  return toHex(computed) === toHex(root) ? null : `the head path does not lead to the root of the log of ${head.size}`;
}

/**
 * Does `cosignature` hold: the gateway's signature (under `gatewayKey`) of the
 * head it covers, and the witness's over that head? With `witnessKey`, the
 * witness must be that key.
 */
export function verifyCosignature(cosignature: Cosignature, gatewayKey: PublicKey, witnessKey?: PublicKey): VerifyResult {
  const problem = headSignatureProblem(cosignature.head, gatewayKey);
  if (problem !== null) return result(`the co-signed head: ${problem}`);
  const witness = hex(cosignature.witness, ED25519_PUBLIC_KEY_BYTES);
  if (witness === null) return result('the witness key is not 32 bytes of hex');
  if (witnessKey !== undefined && toHex(witness) !== toHex(keyBytes(witnessKey)))
    return result(`co-signed by witness ${keyFingerprint(witness)}, not ${keyFingerprint(witnessKey)}`);
  if (!isCount(cosignature.time)) return result('the co-signature time is not a non-negative integer');
  const message = encodeCosignatureMessage(cosignature.time, headMessage(cosignature.head, gatewayKey));
  return result(signatureProblem(cosignature.signature, message, witness, 'the witness signature'));
}

/** The 88 bytes a head's signature covers, for the log of `key`. */
export function headMessage(head: Pick<SignedHead, 'size' | 'time' | 'root'>, key: PublicKey): Uint8Array {
  const root = hex(head.root, HASH_BYTES);
  if (root === null || !isCount(head.size) || !isCount(head.time))
    throw new RangeError('head: size and time must be non-negative integers and root 32 bytes of hex');
  return encodeHeadMessage(sha256(keyBytes(key)), head.size, head.time, root);
}

/** Why `head` is not signed by `key`, or null. */
export function headSignatureProblem(head: SignedHead, key: PublicKey): string | null {
  if (typeof head !== 'object' || head === null) return 'the head is not an object';
  if (!isCount(head.size) || !isCount(head.time)) return 'the head size and time must be non-negative integers';
  if (hex(head.root, HASH_BYTES) === null) return 'the head root is not 32 bytes of hex';
  let publicKey: Uint8Array;
  try {
    publicKey = keyBytes(key);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return signatureProblem(head.signature, headMessage(head, publicKey), publicKey, `the signature of the head of size ${head.size}`);
}

function signatureProblem(signature: unknown, message: Uint8Array, key: Uint8Array, what: string): string | null {
  const bytes = hex(signature, ED25519_SIGNATURE_BYTES);
  if (bytes === null) return `${what} is not 64 bytes of hex`;
  let ok = false;
  try {
    ok = ed25519.verify(bytes, message, key, { zip215: false });
  } catch {
    // A malformed key or signature point: not valid, whatever the cause.
  }
  return ok ? null : `${what} does not verify under key ${keyFingerprint(key)}`;
}

function keyBytes(key: PublicKey): Uint8Array {
  const bytes = typeof key === 'string' ? hex(key, ED25519_PUBLIC_KEY_BYTES) : key;
  if (bytes === null || bytes.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError('a public key is 32 bytes (64 hex digits)');
  return bytes;
}

function hashes(path: readonly unknown[]): Uint8Array[] | null {
  if (!Array.isArray(path)) return null;
  const out: Uint8Array[] = [];
  for (const p of path) {
    const bytes = hex(p, HASH_BYTES);
    if (bytes === null) return null;
    out.push(bytes);
  }
  return out;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function result(problem: string | null): VerifyResult {
  return problem === null ? { ok: true } : { ok: false, reason: problem };
}
