// deploy/fleet/ works as written: the HAProxy configuration is what
// `chainlanes fleet haproxy-config` prints for its two gateways, and HAProxy
// accepts it; the three etcd environment files start a 3-member cluster that
// serves (in a lab of network namespaces at the files' addresses, replaced).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys, encode } from '../../src/fleet/index.js';
import { ETCD_BINARY, HAPROXY_BINARY, ROOT, registerCleanup, runCli, startEtcd, startLab, tempDir } from '../helpers/index.js';

const DEPLOY = join(ROOT, 'deploy', 'fleet');

describe('deploy/fleet', () => {
  it('haproxy.cfg is what `fleet haproxy-config` prints for its two gateways, and HAProxy accepts it', async () => {
    const etcd = await startEtcd();
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => client.close());
    const keys = new FleetKeys('/chainlanes/');
    for (const [id, ip] of [
      ['g1', '10.0.1.1'],
      ['g2', '10.0.1.2'],
    ] as const) {
      await client.put(
        keys.member(id),
        encode({ url: `http://${ip}:9001`, capacity: { entriesPerSec: 1e6, bytesPerSec: 1e9 }, startedAt: 0, store: 'x'.repeat(64) }),
      );
    }
    const printed = runCli([
      'fleet',
      'haproxy-config',
      '--etcd',
      etcd.endpoints.join(','),
      '--bind',
      '0.0.0.0:9000',
      '--haproxy-socket',
      '/run/haproxy/chainlanes.sock',
      '--haproxy-map',
      '/etc/haproxy/chainlanes.map',
    ]);
    expect(printed.status, printed.stderr).toBe(0);
    const example = readFileSync(join(DEPLOY, 'haproxy.cfg'), 'utf8');
    expect(example).toBe(printed.output);
    // HAProxy checks the file as it is, its socket and map where a test may write them.
    const dir = tempDir('chainlanes-deploy-haproxy-');
    writeFileSync(join(dir, 'chains.map'), 'shop g1\n');
    const checked = example.replace('/run/haproxy/chainlanes.sock', join(dir, 'admin.sock')).replace('/etc/haproxy/chainlanes.map', join(dir, 'chains.map'));
    writeFileSync(join(dir, 'haproxy.cfg'), checked);
    expect(() => execFileSync(HAPROXY_BINARY, ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { stdio: 'pipe' })).not.toThrow();
  });

  it('etcd/etcd-{1,2,3}.env start a 3-member cluster that serves', async () => {
    const lab = startLab({ networks: ['etcd'], hosts: { e1: ['etcd'], e2: ['etcd'], e3: ['etcd'] }, root: ['etcd'] });
    const addresses = ['e1', 'e2', 'e3'].map((host) => lab.address(host, 'etcd'));
    const endpoints = addresses.map((address) => `http://${address}:2379`);
    for (const i of [1, 2, 3]) {
      const env: Record<string, string> = {};
      for (const line of readFileSync(join(DEPLOY, 'etcd', `etcd-${i}.env`), 'utf8').split('\n')) {
        const m = /^(ETCD_[A-Z_]+)="(.*)"$/.exec(line);
        if (m !== null) env[m[1]!] = m[2]!.replace(/10\.0\.0\.([123])/g, (_, n: string) => addresses[Number(n) - 1]!);
      }
      expect(env.ETCD_NAME).toBe(`etcd-${i}`);
      const data = mkdtempSync('/dev/shm/chainlanes-deploy-etcd-');
      registerCleanup(`etcd data ${data}`, () => rmSync(data, { recursive: true, force: true }));
      const command = lab.command(`e${i}`, [ETCD_BINARY]);
      const child = spawn(command[0]!, command.slice(1), {
        env: { ...env, ETCD_DATA_DIR: data, ETCD_LOG_LEVEL: 'warn', PATH: process.env.PATH ?? '' },
        stdio: 'ignore',
      });
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      registerCleanup(`etcd-${i} pid ${child.pid ?? '?'}`, async () => {
        if (child.exitCode === null) child.kill('SIGKILL');
        await closed;
      });
    }
    for (const endpoint of endpoints) {
      await expect
        .poll(
          () =>
            fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) }).then(
              async (r) => ((await r.json()) as { health: string }).health,
              () => 'down',
            ),
          { timeout: 20_000 },
        )
        .toBe('true');
    }
    const client = new EtcdClient({ endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => client.close());
    await client.put('/chainlanes/deploy-check', 'ok');
    const members = (await (await fetch(`${endpoints[2]}/v3/cluster/member/list`, { method: 'POST', body: '{}' })).json()) as { members: { name: string }[] };
    expect(members.members.map((m) => m.name).sort()).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
    expect((await client.range('/chainlanes/deploy-check')).kvs[0]?.value.toString()).toBe('ok');
  }, 60_000);
});
