// A real etcd for the fleet's benchmarks (Debian's etcd-server): one member on
// tmpfs (its WAL is pre-allocated: memory, not the shared disk) and
// ephemeral ports, removed by `stop`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startEtcd(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join('/dev/shm', 'chainlanes-bench-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const child = spawn(
    '/usr/bin/etcd',
    [
      '--name',
      'bench',
      '--data-dir',
      dir,
      '--logger=zap',
      '--log-level=warn',
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `bench=http://127.0.0.1:${peer}`,
    ],
    { stdio: 'ignore' },
  );
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 200 || child.exitCode !== null) throw new Error('etcd did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGKILL');
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
