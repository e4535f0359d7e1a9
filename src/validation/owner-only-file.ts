// Secrets kept in files (the admin key, the anchoring account's key): a file
// group or others can read holds no secret, so it is refused.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './refusals.js';

/** The file's text, trimmed; `setting` names it in a refusal (e.g. "auth.adminKeyFile"). Never shows the contents. */
export function readOwnerOnlyFile(file: string, setting: string): string {
  const unreadable = (error: unknown): ConfigError =>
    new ConfigError([`${setting} ${file}: cannot be read (${error instanceof Error ? error.message : String(error)})`]);
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    mode = stat.mode & 0o777;
  } catch (error) {
    throw unreadable(error);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError([
      `${setting} ${file}: its mode ${mode.toString(8).padStart(4, '0')} lets group or others at it; make it the owner's alone: chmod 600 ${file}`,
    ]);
  }
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw unreadable(error);
  }
}

/**
 * An Ed25519 private key in PEM (PKCS #8, as `openssl genpkey -algorithm ed25519`
 * writes it) from a file its owner alone may read: a gateway's head-signing
 * key, a monitor's co-signing key. `setting` names the file in refusals.
 */
export function readEd25519KeyFile(file: string, setting: string): KeyObject {
  const text = readOwnerOnlyFile(file, setting);
  const make = `make one with: openssl genpkey -algorithm ed25519 -out ${file} && chmod 600 ${file}`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    throw new ConfigError([`${setting} ${file}: is not a PEM private key (${error instanceof Error ? error.message : String(error)}); ${make}`]);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ConfigError([`${setting} ${file}: holds an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519; ${make}`]);
  return key;
}
