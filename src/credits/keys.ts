// Keys (docs/protocol.md §3): `clk_` ‖ 32 base32 characters of 20 random bytes
// (160 bits) ‖ 4 base32 characters of checksum. The prefix makes a leaked key
// easy to find (secret scanners, grep); the checksum lets a mistyped or made-up
// key be refused before any lookup. The gateway keeps only SHA-256 digests of
// keys, and compares them in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'clk_';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const SECRET_BYTES = 20;
/** 20 bytes are 160 bits: exactly 32 base32 characters. */
const SECRET_CHARS = 32;
/** 20 bits of SHA-256 over prefix and secret: a typo passes with odds of 1 in a million. */
const CHECKSUM_CHARS = 4;
export const KEY_LENGTH = KEY_PREFIX.length + SECRET_CHARS + CHECKSUM_CHARS;
const KEY_SHAPE = new RegExp(`^${KEY_PREFIX}[${ALPHABET}]{${SECRET_CHARS + CHECKSUM_CHARS}}$`);
export const KEY_RULE = `a chainlanes key is "${KEY_PREFIX}" and ${SECRET_CHARS + CHECKSUM_CHARS} characters of a-z 2-7 ending in a checksum`;

export const DIGEST_BYTES = 32;

/** A new key with 160 random bits. Shown once to its holder, never stored. */
export function newKey(): string {
  const secret = base32(randomBytes(SECRET_BYTES));
  return KEY_PREFIX + secret + checksumOf(secret);
}

/**
 * SHA-256 of a well-formed key, or null for anything that is not one (wrong
 * prefix, length, alphabet or checksum): such a key is refused without a lookup.
 */
export function keyDigest(key: string): Buffer | null {
  if (key.length !== KEY_LENGTH || !KEY_SHAPE.test(key)) return null;
  const secret = key.slice(KEY_PREFIX.length, KEY_PREFIX.length + SECRET_CHARS);
  if (key.slice(KEY_PREFIX.length + SECRET_CHARS) !== checksumOf(secret)) return null;
  return sha256(key);
}

/** Constant-time equality of two digests (both always DIGEST_BYTES long). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === DIGEST_BYTES && b.length === DIGEST_BYTES && timingSafeEqual(a, b);
}

/** `acct_…` or `key_…`: 80 random bits, URL-safe. */
export function newId(prefix: 'acct_' | 'key_'): string {
  return prefix + base32(randomBytes(10));
}

const ID_SHAPE = { acct_: /^acct_[a-z2-7]{16}$/, key_: /^key_[a-z2-7]{16}$/ } as const;

export function isId(prefix: 'acct_' | 'key_', text: string): boolean {
  return ID_SHAPE[prefix].test(text);
}

function checksumOf(secret: string): string {
  const hash = sha256(KEY_PREFIX + secret);
  // The first 20 bits of the hash, 5 bits per character.
  const bits = (hash[0]! << 12) | (hash[1]! << 4) | (hash[2]! >> 4);
  let out = '';
  for (let shift = 15; shift >= 0; shift -= 5) out += ALPHABET[(bits >> shift) & 31];
  return out;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** RFC 4648 base32, lowercase, no padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
