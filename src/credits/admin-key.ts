// The admin key decides the mode (DESIGN.md "Accounts, keys and credits"):
// with one the gateway is authenticated, without one it is open (no accounts,
// chains free and created on first write), and an open gateway listens on
// loopback only unless the operator insists.
import { isIP } from 'node:net';
import { ConfigError, readOwnerOnlyFile } from '../validation/index.js';
import { KEY_RULE, keyDigest } from './keys.js';

export const ADMIN_KEY_ENV = 'CHAINLANES_ADMIN_KEY';

export interface AuthSettings {
  adminKeyFile: string | null;
  insecureOpen: boolean;
}

/**
 * The admin key from CHAINLANES_ADMIN_KEY or `auth.adminKeyFile`, or null for
 * open mode. The file must be the owner's alone: a key others can read is no
 * secret. The key itself never appears in a refusal.
 */
export function readAdminKey(auth: AuthSettings, env: NodeJS.ProcessEnv): string | null {
  const fromEnv = env[ADMIN_KEY_ENV] || undefined;
  const file = auth.adminKeyFile;
  if (fromEnv !== undefined && file !== null) {
    throw new ConfigError([`auth: both environment ${ADMIN_KEY_ENV} and auth.adminKeyFile (${file}) hold an admin key: give it one way only`]);
  }
  if (fromEnv !== undefined) return checkedKey(fromEnv.trim(), `environment ${ADMIN_KEY_ENV}`);
  if (file === null) return null;
  return checkedKey(readOwnerOnlyFile(file, 'auth.adminKeyFile'), `auth.adminKeyFile ${file}`);
}

function checkedKey(key: string, source: string): string {
  if (keyDigest(key) === null) throw new ConfigError([`${source}: not an admin key: ${KEY_RULE}; make one with \`chainlanes keygen\``]);
  return key;
}

/** 127.0.0.0/8, ::1 and "localhost": addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || bare.startsWith('::ffff:127.');
  return false;
}

/** An open gateway (no admin key) on an address others can reach is refused unless `auth.insecureOpen` says so. */
export function checkOpenBind(host: string, auth: AuthSettings, adminKey: string | null): void {
  if (adminKey !== null || auth.insecureOpen || isLoopback(host)) return;
  throw new ConfigError([
    `host: ${host} is reachable from other machines, and no admin key is set (open mode: no accounts, every chain free to anyone). ` +
      `Set ${ADMIN_KEY_ENV} or auth.adminKeyFile, listen on 127.0.0.1, or start with --insecure-open (auth.insecureOpen) if you mean it`,
  ]);
}
