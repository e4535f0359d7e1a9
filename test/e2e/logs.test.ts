// Structured logs: one JSON object per line for machines, levels that filter,
// a readable form on request, and the events an operator needs.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, parseLogLines, runCli, startGateway, tempDir } from '../helpers/index.js';

describe('logs', () => {
  it('writes one JSON object per line, with level, time, pid and an event name, and logs the shutdown', async () => {
    const gw = await startGateway();
    const stdout = gw
      .output()
      .split('\n')
      .filter((line) => line !== '');
    expect(stdout.length).toBeGreaterThanOrEqual(2);
    for (const line of stdout) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    const logs = gw.logs();
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, event: 'listening', port: gw.port, pid: gw.process.pid, time: expect.any(String) }));
    expect(logs).toContainEqual(
      expect.objectContaining({
        event: 'layout',
        native: expect.any(Boolean),
        uws: expect.stringMatching(/^uWebSockets\.js 20\.\d+\.\d+\S* \(uws-20\.\d+\)$/),
        layout: expect.objectContaining({ cpuCount: expect.any(Number) }),
      }),
    );
    expect(await gw.stop()).toBe(0);
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'shutdown', signal: 'SIGTERM' }));
  });

  it('drops lines below --log-level (here CHAINLANES_LOG_LEVEL=warn)', async () => {
    // At warn the "listening on" line is dropped too: a fixed port, and readiness from /healthz.
    const gw = await startGateway({
      port: await freePort(),
      env: { CHAINLANES_LOG_LEVEL: 'warn', CHAINLANES_TEST_FAULTS: JSON.stringify({ crashWorkerAfterTasks: 1_000_000 }) },
    });
    expect(await gw.stop()).toBe(0);
    const logs = gw.logs();
    expect(logs).toContainEqual(expect.objectContaining({ level: 40, event: 'test-faults' }));
    expect(logs.filter((line) => line.level < 40)).toEqual([]);
  });

  it('writes readable lines with --log-format pretty', async () => {
    const gw = await startGateway({ env: { CHAINLANES_LOG_FORMAT: 'pretty' } });
    expect(gw.logs()).toEqual([]);
    expect(gw.output()).toMatch(/INFO.*chainlanes listening on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('logs a refused start as fatal, with the reason', () => {
    const file = join(tempDir('chainlanes-notadir-'), 'file');
    writeFileSync(file, 'not a directory');
    const run = runCli(['serve', '--port', '0', '--data', join(file, 'data')]);
    expect(run.status).toBe(2);
    expect(parseLogLines(run.output)).toContainEqual(
      expect.objectContaining({ level: 60, event: 'start-failed', error: expect.stringMatching(/its parent .* is not a directory/) }),
    );
    expect(run.stderr).toContain(`chainlanes: data directory ${join(file, 'data')}: its parent ${file} is not a directory`);
  });
});
