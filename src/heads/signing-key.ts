// The gateway's Ed25519 key, which signs the directory log's heads. One key per
// store, for good: a head is only worth something if every head of the log is
// checked against the same key, so the store records the public key of its
// heads and refuses any other. The key is made by the store on its first start
// and kept in it (table heads.keys), or read from a file only its owner can
// read (heads.keyFile, --signing-key-file); the store then keeps only the
// public half.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { ConfigError, readEd25519KeyFile } from '../validation/index.js';

export interface SigningKey {
  privateKey: KeyObject;
  /** The raw 32-byte public key. */
  publicKey: Buffer;
  /** SHA-256 of the raw public key, hex: the log id in every head it signs. */
  fingerprint: string;
  /** Where the private key lives. */
  source: 'store' | 'file';
}

const PUBLIC = Buffer.from('public');
const PRIVATE = Buffer.from('private');

export function keyFingerprint(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

/** The raw 32 bytes of an Ed25519 key's public half. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

// A KeyObject of a raw public key: the ledger's, which checks heads too (a standby checks its owner's).
export { publicKeyObject } from '../ledger/index.js';

/** The head-signing key of heads.keyFile (--signing-key-file). */
export function readSigningKeyFile(file: string, setting = 'heads.keyFile'): KeyObject {
  return readEd25519KeyFile(file, setting);
}

function keysTable(root: RootDatabase): Database<Buffer, Buffer> {
  return root.openDB<Buffer, Buffer>('heads.keys', { keyEncoding: 'binary', encoding: 'binary' });
}

/** The public key the store's heads are signed with, or null before its first start with heads on. */
export function storedPublicKey(root: RootDatabase): Buffer | null {
  return keysTable(root).get(PUBLIC) ?? null;
}

/**
 * The key that signs this store's heads: the file's when `keyFile` is set, else
 * the one the store keeps, made now on a store that has none. A file key on a
 * store whose heads are another key's is refused naming both fingerprints; so
 * is a store whose key lived in a file started without it. Durable when it resolves.
 */
export async function openSigningKey(root: RootDatabase, keyFile: string | null, dataDir: string): Promise<SigningKey> {
  const table = keysTable(root);
  const stored = table.get(PUBLIC) ?? null;
  if (keyFile !== null) {
    const privateKey = readSigningKeyFile(keyFile);
    const publicKey = rawPublicKey(privateKey);
    if (stored !== null && !stored.equals(publicKey)) {
      throw new ConfigError([
        `heads.keyFile ${keyFile}: holds the key with fingerprint ${keyFingerprint(publicKey)}, but the store in ${dataDir} signed its heads ` +
          `with the key with fingerprint ${keyFingerprint(stored)}; a store's heads are all signed by one key (start with that key, or a new data directory)`,
      ]);
    }
    if (stored === null) await putDurably(root, table, [[PUBLIC, publicKey]]);
    return { privateKey, publicKey, fingerprint: keyFingerprint(publicKey), source: 'file' };
  }
  const der = table.get(PRIVATE);
  if (der !== undefined) {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const publicKey = rawPublicKey(privateKey);
    if (stored === null || !stored.equals(publicKey))
      throw new ConfigError([`the store in ${dataDir}: its signing key does not match the public key it records; the store is damaged`]);
    return { privateKey, publicKey, fingerprint: keyFingerprint(publicKey), source: 'store' };
  }
  if (stored !== null) {
    throw new ConfigError([
      `the store in ${dataDir} signed its heads with the key with fingerprint ${keyFingerprint(stored)}, which it does not keep (it came from a key file); ` +
        'start with --signing-key-file (heads.keyFile) naming that key',
    ]);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = rawPublicKey(privateKey);
  await putDurably(root, table, [
    [PRIVATE, privateKey.export({ format: 'der', type: 'pkcs8' })],
    [PUBLIC, publicKey],
  ]);
  return { privateKey, publicKey, fingerprint: keyFingerprint(publicKey), source: 'store' };
}

async function putDurably(root: RootDatabase, table: Database<Buffer, Buffer>, rows: [Buffer, Buffer][]): Promise<void> {
  await root.transaction(() => {
    for (const [key, value] of rows) table.putSync(key, value);
  });
  await root.flushed;
}
