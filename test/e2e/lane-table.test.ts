// The lane table lives in the store and can be changed while the gateway runs.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, StreamClient, sleep, startGateway } from '../helpers/index.js';

const lanesCli = (args: string[]) => spawnSync(process.execPath, [CLI, 'lanes', ...args], { encoding: 'utf8' });

describe('lane table in the store', () => {
  it('is seeded from config, changed at run time with `chainlanes lanes --set`, and kept across restarts', async () => {
    const first = await startGateway({ config: { scheduler: { tickMs: 50, laneTablePollMs: 200 } } });
    const dir = first.dataDir;
    const strict = { lanes: [{ lane: 'heavy', minEntriesPerSec: 5 }], shareFloorEntriesPerSec: 1e12 };
    expect(JSON.parse(execFileSync(process.execPath, [CLI, 'lanes', '--data', dir], { encoding: 'utf8' }))).toMatchObject({
      lanes: [
        { lane: 'heavy', minEntriesPerSec: 50_000 },
        { lane: 'medium', minEntriesPerSec: 2_000 },
      ],
    });
    const c = await StreamClient.open(first.port, 'shop');
    const trickle = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        c.send(['a sale']);
        await sleep(20);
      }
    };
    await trickle(600);
    expect((await first.json('/v1/chains/shop')).lane).toBe('light');

    const bad = join(dir, 'bad-lanes.json');
    writeFileSync(bad, JSON.stringify({ lanes: [{ lane: 'fastest' }], shareFloorEntriesPerSec: 0 }));
    const refused = lanesCli(['--data', dir, '--set', bad]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/lanes\[0\]\.lane: "fastest" is not allowed: expected one of "heavy", "medium", "light"/);

    const file = join(dir, 'lanes.json');
    writeFileSync(file, JSON.stringify(strict));
    expect(lanesCli(['--data', dir, '--set', file]).stdout).toMatch(/lane table stored/);
    await trickle(1_500);
    expect((await first.json('/v1/chains/shop')).lane).toBe('heavy');
    expect((await first.json('/v1/lanes')).laneTable).toEqual(strict);
    expect(first.logs()).toContainEqual(expect.objectContaining({ event: 'lane-table', msg: 'lane table changed in the store' }));
    c.close();
    // The store must be free for the second gateway, and the first one leaves it cleanly.
    expect(await first.stop()).toBe(0);
    // A restart takes the store's table, not the configured default.
    const second = await startGateway({ dataDir: dir });
    expect((await second.json('/v1/lanes')).laneTable).toEqual(strict);
  });
});
