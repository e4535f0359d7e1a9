// deploy/: the systemd unit passes systemd's own checker, the container's
// health probe answers for real gateways (plain and TLS), and the Dockerfile
// copies only what exists. (No container engine here: the image is not built.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, freePort, makeCertificate, startGateway, tempDir } from '../helpers/index.js';

const DEPLOY = join(ROOT, 'deploy');

function healthcheck(port: number): number | null {
  return spawnSync(process.execPath, [join(DEPLOY, 'healthcheck.mjs')], { env: { ...process.env, CHAINLANES_PORT: String(port) }, timeout: 10_000 }).status;
}

describe('deploy/', () => {
  it('chainlanes.service passes systemd-analyze verify without a warning', () => {
    // This machine's node in place of /usr/bin/node: systemd checks that ExecStart is executable.
    const unit = readFileSync(join(DEPLOY, 'chainlanes.service'), 'utf8').replace('/usr/bin/node', process.execPath);
    expect(unit).toMatch(/^LimitNOFILE=\d+$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    const file = join(tempDir(), 'chainlanes.service');
    writeFileSync(file, unit);
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 20_000 });
    expect(verify.error).toBeUndefined();
    expect(verify.stdout + verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });

  it('healthcheck.mjs answers 0 for a ready gateway, plain or TLS, and 1 for none', async () => {
    const plain = await startGateway();
    expect(healthcheck(plain.port)).toBe(0);
    const tls = makeCertificate();
    const secure = await startGateway({ env: { CHAINLANES_TLS_CERT: tls.certFile, CHAINLANES_TLS_KEY: tls.keyFile } });
    expect(healthcheck(secure.port)).toBe(0);
    expect(healthcheck(await freePort())).toBe(1);
  });

  it('the Dockerfile copies only files that exist and runs the built CLI', () => {
    const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/opt/chainlanes/dist/src/cli.js"]');
    expect(dockerfile).toContain('"/opt/chainlanes/deploy/healthcheck.mjs"');
  });

  it("the Dockerfile's instructions give the key files to the user the image runs as", () => {
    const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    // The official node images' user `node` is uid 1000; the gateway refuses keys others can read, so they must be its own.
    expect(dockerfile).toMatch(/^USER node$/m);
    const installs = [...dockerfile.matchAll(/install (-o \d+ -g \d+ -m 0600) \S+ (\/etc\/chainlanes\/\S+)/g)];
    expect(installs.map((m) => m[2]).sort()).toEqual(['/etc/chainlanes/admin.key', '/etc/chainlanes/tls.crt', '/etc/chainlanes/tls.key']);
    for (const install of installs) expect(install[1]).toBe('-o 1000 -g 1000 -m 0600');
  });
});
