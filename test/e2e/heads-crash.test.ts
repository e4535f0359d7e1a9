// A gateway killed with SIGKILL under a stream of entries, again and again,
// watched all along by `chainlanes monitor`: every head it signed before a
// kill is consistent with every head after the restart (the monitor reports
// no fork and no rollback), and the store's heads all check out offline.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, StreamClient, registerCleanup, runCli, sleep, stableAddress, startGateway, tempDir, type ChildGateway } from '../helpers/index.js';

const CONFIG = { ledger: { blockIntervalMs: 10 }, allowedHosts: ['*'] };

interface Line {
  event: string;
  size?: number;
}

describe('kill -9 under load, watched by a monitor', () => {
  it('leaves every head consistent with the next, across restarts', async () => {
    let gw: ChildGateway = await startGateway({ config: CONFIG });
    const dataDir = gw.dataDir;
    const address = await stableAddress(gw);
    const monitor = spawn(
      process.execPath,
      [CLI, 'monitor', address.url, '--state', tempDir('chainlanes-monitor-'), '--interval', '0.05', '--timeout', '2', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    registerCleanup('monitor', () => {
      if (monitor.exitCode === null) monitor.kill('SIGKILL');
    });
    let output = '';
    monitor.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    monitor.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const lines = (): Line[] =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
    const accepted = (): number =>
      Math.max(
        0,
        ...lines()
          .filter((l) => l.event === 'ok')
          .map((l) => l.size ?? 0),
      );

    for (let cycle = 0; cycle < 3; cycle++) {
      const client = await StreamClient.open(gw.port, `crash-${cycle % 2}`);
      const before = accepted();
      // Stream until the monitor has accepted a few heads more, then die mid-stream.
      for (let frame = 0; accepted() < before + 3 || frame < 50; frame++) {
        client.send(Array.from({ length: 4 }, (_, k) => `cycle ${cycle} frame ${frame} entry ${k}`));
        await sleep(2);
        if (frame > 20_000) throw new Error(`the monitor accepted no new head: ${output.slice(-2000)}`);
      }
      client.send(['in flight at the kill']);
      await gw.kill();
      gw = await startGateway({ dataDir, config: CONFIG });
      address.to(gw);
    }
    // Once more after the last restart, with the log grown.
    const last = accepted();
    const client = await StreamClient.open(gw.port, 'after');
    client.send(['after the last restart']);
    await client.waitCommitted((n) => n.length >= 1);
    await expect.poll(accepted, { timeout: 15_000 }).toBeGreaterThan(last);
    monitor.kill('SIGTERM');
    await expect.poll(() => monitor.exitCode, { timeout: 10_000 }).toBe(0);

    const events = lines().map((l) => l.event);
    expect(
      events.filter((e) => !['ok', 'unreachable'].includes(e)),
      output.slice(-3000),
    ).toEqual([]);
    // At least one head accepted in each cycle before its kill, and one after the last restart.
    expect(events.filter((e) => e === 'ok').length).toBeGreaterThanOrEqual(4);
    expect(await gw.stop()).toBe(0);
    const verify = runCli(['verify', '--data', dataDir]);
    expect(verify.status, verify.output).toBe(0);
    expect(verify.output).toMatch(/signed heads: \d+, each signed by the store's key [0-9a-f]{64} and consistent with the directory log/);
  });
});
