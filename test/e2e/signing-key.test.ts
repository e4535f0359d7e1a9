// The gateway's signing key (src/heads/signing-key.ts): made once and kept in
// the store, or read from a file only its owner can read; one key per store,
// for good. Each refusal is a refused start (exit 2) naming its cause.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFingerprint, verifyHead, type HeadKeyView, type HeadView } from '../../src/client/index.js';
import { runCli, startGateway, tempDir } from '../helpers/index.js';

/** An Ed25519 key in PEM, as `openssl genpkey -algorithm ed25519` writes it, in a file of `mode`. */
function keyFile(dir: string, name: string, mode: number, algorithm: 'ed25519' | 'ec' = 'ed25519'): string {
  const file = join(dir, name);
  const args = algorithm === 'ed25519' ? ['genpkey', '-algorithm', 'ed25519'] : ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  writeFileSync(file, execFileSync('openssl', args));
  chmodSync(file, mode);
  return file;
}

/** The raw public key of a PEM key file, hex. */
function publicKeyOf(file: string): string {
  const der = execFileSync('openssl', ['pkey', '-in', file, '-pubout', '-outform', 'DER']);
  return der.subarray(der.length - 32).toString('hex');
}

function serve(dataDir: string, keyFilePath?: string): ReturnType<typeof runCli> {
  // A refused start exits before listening; a start that is not refused would run, so the port is one nobody else uses.
  return runCli(['serve', '--port', '0', '--data', dataDir, ...(keyFilePath === undefined ? [] : ['--signing-key-file', keyFilePath])]);
}

describe('the signing key', () => {
  it('is made by a new store, kept in it, and the same after a restart', async () => {
    const first = await startGateway();
    const key = await first.json<HeadKeyView>('/v1/directory/key');
    expect(key.fingerprint).toBe(keyFingerprint(key.key));
    expect(await first.stop()).toBe(0);
    const second = await startGateway({ dataDir: first.dataDir });
    expect(await second.json<HeadKeyView>('/v1/directory/key')).toEqual(key);
    expect(verifyHead(await second.json<HeadView>('/v1/directory/head'), key.key)).toEqual({ ok: true });
  });

  it('comes from --signing-key-file when given, and the store then holds that key for good', async () => {
    const dir = tempDir('chainlanes-key-');
    const file = keyFile(dir, 'head.pem', 0o600);
    const gw = await startGateway({ env: { CHAINLANES_SIGNING_KEY_FILE: file } });
    const key = await gw.json<HeadKeyView>('/v1/directory/key');
    expect(key.key).toBe(publicKeyOf(file));
    expect(verifyHead(await gw.json<HeadView>('/v1/directory/head'), key.key)).toEqual({ ok: true });
    expect(await gw.stop()).toBe(0);
    // Started again without the file: the store does not keep that private key, and says which it needs.
    const without = serve(gw.dataDir);
    expect(without.status).toBe(2);
    expect(without.output).toContain(
      `signed its heads with the key with fingerprint ${key.fingerprint}, which it does not keep (it came from a key file); start with --signing-key-file`,
    );
    // Another key file on that store: refused, both fingerprints named.
    const other = keyFile(dir, 'other.pem', 0o600);
    const refused = serve(gw.dataDir, other);
    expect(refused.status).toBe(2);
    expect(refused.output).toContain(
      `holds the key with fingerprint ${keyFingerprint(publicKeyOf(other))}, but the store in ${gw.dataDir} signed its heads with the key with fingerprint ${key.fingerprint}`,
    );
    // The same file again: accepted.
    const again = await startGateway({ dataDir: gw.dataDir, env: { CHAINLANES_SIGNING_KEY_FILE: file } });
    expect((await again.json<HeadKeyView>('/v1/directory/key')).key).toBe(key.key);
  });

  it('refuses a key file on a store that signed with the key it made, naming both fingerprints', async () => {
    const gw = await startGateway();
    const stored = await gw.json<HeadKeyView>('/v1/directory/key');
    expect(await gw.stop()).toBe(0);
    const file = keyFile(tempDir('chainlanes-key-'), 'head.pem', 0o600);
    const run = serve(gw.dataDir, file);
    expect(run.status).toBe(2);
    expect(run.output).toMatch(new RegExp(`fingerprint ${keyFingerprint(publicKeyOf(file))}.*fingerprint ${stored.fingerprint}`));
  });

  it('refuses a key file group or others may read, one that is not PEM, and one that is not Ed25519', () => {
    const dir = tempDir('chainlanes-key-');
    const store = tempDir('chainlanes-key-store-');
    const shared = keyFile(dir, 'shared.pem', 0o644);
    const groupReadable = keyFile(dir, 'group.pem', 0o640);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key\n', { mode: 0o600 });
    const ec = keyFile(dir, 'ec.pem', 0o600, 'ec');
    const cases: [string, RegExp][] = [
      [shared, /shared\.pem: its mode 0644 lets group or others at it; make it the owner's alone: chmod 600/],
      [groupReadable, /group\.pem: its mode 0640 lets group or others at it/],
      [garbage, /garbage\.pem: is not a PEM private key/],
      [ec, /ec\.pem: holds an ec key, not Ed25519/],
      [join(dir, 'missing.pem'), /missing\.pem: cannot be read/],
    ];
    for (const [file, message] of cases) {
      const run = serve(store, file);
      expect({ file, status: run.status }).toEqual({ file, status: 2 });
      expect(run.output).toMatch(message);
      // Nothing of the key went into the store: a refused start signs nothing.
      expect(run.output).not.toMatch(/listening on/);
    }
  });
});
