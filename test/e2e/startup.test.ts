// Start-up: refusing the uWS shim and an unknown uWS build, bad configs, the chain limit, the anchor file.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LANE_TABLE_KEY, StoredSettings } from '../../src/ledger/index.js';
import { StreamClient, WITHOUT_SYS_NICE, parseLogLines, runCli, startGateway, tempDir } from '../helpers/index.js';

function runServe(args: string[], env: Record<string, string> = {}): { status: number | null; output: string; stderr: string } {
  return runCli(['serve', '--port', '0', ...args], env);
}

describe('start-up', () => {
  it('refuses to start when the only uWebSockets.js build that loads is a pure-JS shim', () => {
    // 20.30 is the build with a shim (20.57 has none): pinned to it and told to use the shim,
    // on any Node, no native build is left, so the gateway must not start.
    const dir = tempDir('chainlanes-shim-');
    const { status, output } = runServe(['--data', dir], { CHAINLANES_UWS: 'uws-20.30', UWS_USE_FALLBACK: '1' });
    expect(status).toBe(1);
    const error = String(parseLogLines(output).find((line) => line.event === 'start-failed')?.error);
    expect(error).toMatch(/^no native uWebSockets\.js build loads on Node [\d.]+ \(ABI \d+\)/);
    expect(error).toMatch(
      /uws-20\.30 \(@trufflesuite\/uws-js-unofficial 20\.30\.0-unofficial\.0, for [^)]+\): UWS_USE_FALLBACK is set, and it fell back to its pure-JS shim/,
    );
    expect(output).not.toMatch(/listening on/);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses to start when its front door cannot be made real-time, naming what it needs [root only]', () => {
    const dir = tempDir('chainlanes-rt-');
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ scheduler: { frontDoorRealtimePriority: 1 } }));
    const { status, output } = runCli(['serve', '--port', '0', '--data', join(dir, 'data'), '--config', file], {}, WITHOUT_SYS_NICE);
    expect(status).toBe(1);
    expect(parseLogLines(output).find((line) => line.event === 'start-failed')?.error).toMatch(
      /^scheduler\.frontDoorRealtimePriority 1: the front door's thread cannot be made real-time \(Operation not permitted\); it needs CAP_SYS_NICE/,
    );
    expect(output).not.toMatch(/listening on/);
  });

  it('refuses a CHAINLANES_UWS that names no build', () => {
    const { status, output } = runServe(['--data', tempDir('chainlanes-uws-')], { CHAINLANES_UWS: 'uws-9.9' });
    expect(status).toBe(1);
    expect(parseLogLines(output).find((line) => line.event === 'start-failed')?.error).toMatch(
      /CHAINLANES_UWS="uws-9\.9" names no uWebSockets\.js build: expected one of uws-20\.57, uws-20\.30/,
    );
    expect(output).not.toMatch(/listening on/);
  });

  it('names a bad setting and refuses to start with status 2', () => {
    const dir = tempDir('chainlanes-badcfg-');
    const file = join(dir, 'config.json');
    const refused = (args: string[], env: Record<string, string> = {}): string => {
      const run = runServe(['--data', join(dir, 'data'), ...args], env);
      expect(run.status).toBe(2);
      expect(run.output).not.toMatch(/listening on/);
      return run.stderr;
    };
    writeFileSync(file, JSON.stringify({ limits: { maxFrameBytse: 5 } }));
    expect(refused(['--config', file])).toMatch(/limits\.maxFrameBytse: unknown key: expected one of maxFrameBytes, /);
    writeFileSync(file, JSON.stringify({ scheduler: { tauMs: 'abc' } }));
    expect(refused(['--config', file])).toContain(
      `chainlanes: config file ${file}: scheduler.tauMs: "abc" is not allowed: expected an integer ≥ 1 (milliseconds)`,
    );
    writeFileSync(file, JSON.stringify({ ringBytes: { light: 1000 } }));
    expect(refused(['--config', file])).toMatch(/ringBytes\.light: 1000 is not allowed: expected a power of two/);
    expect(refused(['--port', 'abc'])).toMatch(/flag --port: port: "abc" is not allowed: expected an integer from 0 to 65535/);
    expect(refused([], { CHAINLANES_PORT: 'abc' })).toMatch(/environment CHAINLANES_PORT: port: "abc" is not allowed/);
    expect(refused([], { CHAINLANES_TEST_FAULTS: '{"crashWorker":1}' })).toMatch(/environment CHAINLANES_TEST_FAULTS: crashWorker: unknown key/);
    expect(refused(['--prot', '1'])).toMatch(/^chainlanes serve: unknown flag --prot; did you mean --port\?/);
    // Nothing was started, so nothing was written.
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('refuses a bad lane table file for `chainlanes lanes --set`, naming the path in it', () => {
    const dir = tempDir('chainlanes-badlanes-');
    const file = join(dir, 'lanes.json');
    writeFileSync(file, JSON.stringify({ lanes: [{ lane: 'heavy', minEntriesPerSec: -1 }], shareFloorEntriesPerSec: 0 }));
    const run = runCli(['lanes', '--data', join(dir, 'data'), '--set', file]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`chainlanes: lane table ${file}: lanes[0].minEntriesPerSec: -1 is not allowed: expected a number ≥ 0`);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('refuses to start on a store whose lane table is invalid, naming the path in it', async () => {
    const dir = tempDir('chainlanes-storedlanes-');
    const settings = StoredSettings.open(dir);
    await settings.put(LANE_TABLE_KEY, { lanes: [{ lane: 'medium' }, { lane: 'heavy' }], shareFloorEntriesPerSec: 0 });
    await settings.close();
    const run = runServe(['--data', dir]);
    expect(run.status).toBe(2);
    const [failed] = parseLogLines(run.output).filter((line) => line.event === 'start-failed');
    expect(failed?.level).toBe(60);
    expect(failed?.error).toContain(`the lane table in the store ${dir}: lanes[1].lane: "heavy" is not allowed: expected lanes listed heaviest first`);
    expect(failed?.error).toMatch(/chainlanes lanes --data DIR --set FILE/);
  });

  it('refuses chains beyond limits.maxChains, and appends every directory hash to the anchor file', async () => {
    const anchors = join(tempDir('chainlanes-anchors-'), 'anchors.jsonl');
    const gw = await startGateway({ config: { limits: { maxChains: 2 }, ledger: { blockIntervalMs: 50 } }, env: { CHAINLANES_ANCHOR_FILE: anchors } });
    for (const name of ['one', 'two']) {
      const c = await StreamClient.open(gw.port, name);
      c.send([name]);
      await c.waitCommitted((n) => n.length >= 1);
      c.close();
    }
    // The connection opens (it takes no chain slot); its first frame is refused.
    const third = await StreamClient.open(gw.port, 'three');
    third.send(['one too many']);
    expect((await third.waitReplies(1))[0]).toMatchObject({
      type: 'error',
      frame: 0,
      code: 'unknown_chain',
      message: expect.stringMatching(/limit of 2 chains/),
    });
    const stored = await gw.json<{ anchors: { height: number; hash: string }[] }>('/v1/anchors');
    expect(stored.anchors.length).toBeGreaterThanOrEqual(1);
    // A clean stop: the anchor file is complete.
    expect(await gw.stop()).toBe(0);
    const lines = readFileSync(anchors, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { height: number; hash: string });
    expect(lines.map((l) => l.height)).toEqual(stored.anchors.map((a) => a.height));
    expect(lines.map((l) => l.hash)).toEqual(stored.anchors.map((a) => a.hash));
  });

  it('refuses to verify or show lanes of a directory that holds no store, and creates nothing there', () => {
    const empty = tempDir('chainlanes-empty-');
    const missing = join(empty, 'typo');
    for (const command of ['verify', 'lanes']) {
      const none = runCli([command, '--data', missing]);
      expect(none.status, command).toBe(2);
      expect(none.output, command).toMatch(new RegExp(`${missing} does not exist; --data must name a gateway's data directory`));
      const bare = runCli([command, '--data', empty]);
      expect(bare.status, command).toBe(2);
      expect(bare.output, command).toMatch(/holds no chainlanes store \(no data\.mdb\)/);
      expect(bare.output, command).not.toMatch(/OK/);
    }
    expect(readdirSync(empty)).toEqual([]);
  });
});
