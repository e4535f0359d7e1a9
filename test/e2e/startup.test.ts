// Start-up: refusing the uWS shim, bad configs, the chain limit, the anchor file.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StreamClient, runCli, startGateway } from '../helpers/gateway.js';

function runServe(args: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  return runCli(['serve', '--port', '0', ...args], env);
}

describe('start-up', () => {
  it('refuses to start on the pure-JS uWebSockets.js fallback', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-shim-'));
    const { status, output } = runServe(['--data', dir], { UWS_USE_FALLBACK: '1' });
    expect(status).toBe(1);
    expect(output).toMatch(/uWebSockets\.js loaded its pure-JS fallback/);
    expect(output).not.toMatch(/listening on/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a bad setting and refuses to start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-badcfg-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ limits: { maxFrameBytse: 5 } }));
    expect(runServe(['--data', dir, '--config', file]).output).toMatch(/unknown setting "limits.maxFrameBytse"/);
    writeFileSync(file, JSON.stringify({ ringBytes: { light: 1000 } }));
    expect(runServe(['--data', dir, '--config', file]).output).toMatch(/ringBytes.light must be a power of two/);
    expect(runServe(['--data', dir, '--port', 'abc']).output).toMatch(/--port must be a non-negative integer/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses chains beyond limits.maxChains, and appends every directory hash to the anchor file', async () => {
    const anchors = join(mkdtempSync(join(tmpdir(), 'chainlanes-anchors-')), 'anchors.jsonl');
    const gw = await startGateway({ config: { limits: { maxChains: 2 }, ledger: { blockIntervalMs: 50 } }, env: { CHAINLANES_ANCHOR_FILE: anchors } });
    try {
      for (const name of ['one', 'two']) {
        const c = await StreamClient.open(gw.port, name);
        c.send([name]);
        await c.waitCommitted((n) => n.length >= 1);
        c.close();
      }
      const third = await StreamClient.open(gw.port, 'three');
      expect((await third.waitReplies(1))[0]).toMatchObject({ type: 'error', frame: null, code: 'unknown_chain', message: expect.stringMatching(/limit of 2 chains/) });
      const stored = await gw.json<{ anchors: { height: number; hash: string }[] }>('/v1/anchors');
      expect(stored.anchors.length).toBeGreaterThanOrEqual(1);
      await gw.stop();
      const lines = readFileSync(anchors, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { height: number; hash: string });
      expect(lines.map((l) => l.height)).toEqual(stored.anchors.map((a) => a.height));
      expect(lines.map((l) => l.hash)).toEqual(stored.anchors.map((a) => a.hash));
    } finally {
      await gw.stop();
      gw.cleanup();
      rmSync(dirname(anchors), { recursive: true, force: true });
    }
  });

  it('refuses to verify or show lanes of a directory that holds no store, and creates nothing there', () => {
    const empty = mkdtempSync(join(tmpdir(), 'chainlanes-empty-'));
    const missing = join(empty, 'typo');
    for (const command of ['verify', 'lanes']) {
      const none = runCli([command, '--data', missing]);
      expect(none.status, command).toBe(1);
      expect(none.output, command).toMatch(new RegExp(`${missing} does not exist; --data must name a gateway's data directory`));
      const bare = runCli([command, '--data', empty]);
      expect(bare.status, command).toBe(1);
      expect(bare.output, command).toMatch(/holds no chainlanes store \(no data\.mdb\)/);
      expect(bare.output, command).not.toMatch(/OK/);
    }
    expect(readdirSync(empty)).toEqual([]);
    rmSync(empty, { recursive: true, force: true });
  });
});
