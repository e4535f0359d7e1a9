// TLS end to end: a certificate made for the test, a gateway serving it through
// uWS' SSLApp, real https and wss clients that trust only that certificate.
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { pack, unpack } from 'msgpackr';
import { ROOT, makeCertificate, registerCleanup, runCli, startGateway, tempDir } from '../helpers/index.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A plain-HTTP request: resolves with the status line, or with the error when no HTTP answer comes. */
function plainGet(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = plainRequest({ host: '127.0.0.1', port, path, timeout: 3_000 }, (res) => resolve(`HTTP ${res.statusCode}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    req.end();
  });
}

describe('TLS', () => {
  it('serves https:// and wss:// with the given certificate, and no plain HTTP', async () => {
    const tls = makeCertificate();
    const gw = await startGateway({ env: { CHAINLANES_TLS_CERT: tls.certFile, CHAINLANES_TLS_KEY: tls.keyFile } });
    expect(gw.logs().find((l) => l.event === 'listening')).toMatchObject({ tls: true });

    const ready = await httpsGet(gw.port, '/readyz', tls.cert);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true });

    const ws = new WebSocket(`wss://127.0.0.1:${gw.port}/v1/chains/tls-chain/stream`, { ca: tls.cert });
    registerCleanup('wss client', () => ws.terminate());
    const replies: Record<string, unknown>[] = [];
    ws.on('message', (data: Buffer) => replies.push(unpack(data) as Record<string, unknown>));
    await once(ws, 'open');
    ws.send(pack(['over TLS', 'second']));
    await expect.poll(() => replies.map((r) => r.type), { timeout: 10_000 }).toEqual(['accepted', 'committed']);
    expect(replies[0]).toMatchObject({ frame: 0, seq: 0, count: 2 });
    ws.close();

    const entry = await httpsGet(gw.port, '/v1/chains/tls-chain/entries/1', tls.cert);
    expect(entry.status).toBe(200);
    expect(Buffer.from(JSON.parse(entry.body).content as string, 'base64').toString()).toBe('second');

    // The README's quick start: an example script over wss://, trusting the certificate through NODE_EXTRA_CA_CERTS.
    const example = spawnSync(process.execPath, [join(ROOT, 'examples', 'stream.mjs'), 'tls-chain', 'from the example'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, CHAINLANES_URL: `https://127.0.0.1:${gw.port}`, NODE_EXTRA_CA_CERTS: tls.certFile },
    });
    expect(example.stderr).toBe('');
    expect(example.stdout).toMatch(/^committed: tls-chain seqs 2…2$/m);

    // The same port, spoken to in plain HTTP, gives no HTTP answer at all.
    expect(await plainGet(gw.port, '/readyz')).toMatch(/^error /);
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(httpsGet(gw.port, '/readyz', makeCertificate().cert)).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('refuses missing, non-PEM or mismatched files, and a lone half, with exit 2', () => {
    const tls = makeCertificate();
    const other = makeCertificate();
    const data = tempDir();
    const notPem = join(data, 'not.pem');
    writeFileSync(notPem, 'hello', { mode: 0o600 });
    const serve = (...flags: string[]) => runCli(['serve', '--port', '0', '--data', join(data, 'store'), ...flags]);

    const missing = serve('--tls-cert', join(data, 'nope.pem'), '--tls-key', tls.keyFile);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/tls\.certFile \(--tls-cert\) .*nope\.pem: cannot be read \(ENOENT/);

    const garbage = serve('--tls-cert', tls.certFile, '--tls-key', notPem);
    expect(garbage.status).toBe(2);
    expect(garbage.stderr).toMatch(/tls\.keyFile \(--tls-key\) .*not\.pem: not a PEM private key/);

    // The key is a secret: a copy others may read is refused before it is used.
    const loose = join(data, 'loose.pem');
    copyFileSync(tls.keyFile, loose);
    chmodSync(loose, 0o644);
    const readable = serve('--tls-cert', tls.certFile, '--tls-key', loose);
    expect(readable.status).toBe(2);
    expect(readable.stderr).toContain(
      `tls.keyFile (--tls-key) ${loose}: its mode 0644 lets group or others at it; make it the owner's alone: chmod 600 ${loose}`,
    );

    const mismatched = serve('--tls-cert', tls.certFile, '--tls-key', other.keyFile);
    expect(mismatched.status).toBe(2);
    expect(mismatched.stderr).toMatch(/cannot serve together/);

    const half = serve('--tls-cert', tls.certFile);
    expect(half.status).toBe(2);
    expect(half.stderr).toMatch(/tls\.certFile and tls\.keyFile go together/);
  });
});
