// Structured logs: one JSON object per line for machines, levels that filter,
// a readable form on request, and the events an operator needs.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, parseLogLines, runCli, startGateway, type ChildGateway } from '../helpers/gateway.js';

const started: ChildGateway[] = [];

async function serve(env: Record<string, string> = {}): Promise<ChildGateway> {
  const gw = await startGateway({ env });
  started.push(gw);
  return gw;
}

afterEach(async () => {
  for (const gw of started.splice(0)) {
    await gw.stop();
    gw.cleanup();
  }
});

describe('logs', () => {
  it('writes one JSON object per line, with level, time, pid and an event name, and logs the shutdown', async () => {
    const gw = await serve();
    const stdout = gw.output().split('\n').filter((line) => line !== '');
    expect(stdout.length).toBeGreaterThanOrEqual(2);
    for (const line of stdout) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    const logs = gw.logs();
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, event: 'listening', port: gw.port, pid: gw.process.pid, time: expect.any(String) }));
    expect(logs).toContainEqual(expect.objectContaining({ event: 'layout', native: expect.any(Boolean), layout: expect.objectContaining({ cpuCount: expect.any(Number) }) }));
    expect(await gw.stop()).toBe(0);
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'shutdown', signal: 'SIGTERM' }));
  });

  it('drops lines below --log-level (here CHAINLANES_LOG_LEVEL=warn)', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'chainlanes-loglevel-'));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--data', dataDir], {
      env: { ...process.env, CHAINLANES_LOG_LEVEL: 'warn', CHAINLANES_TEST_FAULTS: JSON.stringify({ crashWorkerAfterTasks: 1_000_000 }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    try {
      await expect.poll(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0), { timeout: 15_000 }).toBe(200);
      child.kill('SIGTERM');
      await once(child, 'exit');
      const logs = parseLogLines(output);
      expect(logs).toContainEqual(expect.objectContaining({ level: 40, event: 'test-faults' }));
      expect(logs.filter((line) => line.level < 40)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('writes readable lines with --log-format pretty', async () => {
    const gw = await serve({ CHAINLANES_LOG_FORMAT: 'pretty' });
    expect(gw.logs()).toEqual([]);
    expect(gw.output()).toMatch(/INFO.*chainlanes listening on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('logs a refused start as fatal, with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-notadir-'));
    const file = join(dir, 'file');
    writeFileSync(file, 'not a directory');
    const run = runCli(['serve', '--port', '0', '--data', join(file, 'data')]);
    rmSync(dir, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(parseLogLines(run.output)).toContainEqual(expect.objectContaining({ level: 60, event: 'start-failed', error: expect.stringMatching(/ENOTDIR/) }));
  });
});

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
