import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, resolveConfig, validateConfig } from '../src/config.js';

describe('config', () => {
  it('layers defaults < file < environment < flags', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'chainlanes-cfg-')), 'c.json');
    writeFileSync(file, JSON.stringify({ port: 7000, host: '127.0.0.2', dataDir: '/from/file', ledger: { blockIntervalMs: 250 } }));
    const config = resolveConfig(['--config', file, '--port', '7002'], { CHAINLANES_PORT: '7001', CHAINLANES_DATA: '/from/env' });
    expect(config.port).toBe(7002);
    expect(config.dataDir).toBe('/from/env');
    expect(config.host).toBe('127.0.0.2');
    expect(config.ledger.blockIntervalMs).toBe(250);
    expect(config.ledger.maxBlockEntries).toBe(65_536);
    expect(resolveConfig([], {})).toEqual(defaultConfig());
  });

  it('refuses unknown flags and settings', () => {
    expect(() => resolveConfig(['--prot', '1'], {})).toThrow(/--prot/);
    const file = join(mkdtempSync(join(tmpdir(), 'chainlanes-cfg-')), 'c.json');
    writeFileSync(file, JSON.stringify({ scheduler: { tick: 5 } }));
    expect(() => resolveConfig(['--config', file], {})).toThrow(/unknown setting "scheduler.tick"/);
  });

  it('refuses rings that cannot hold the largest frame', () => {
    const config = defaultConfig();
    config.ringBytes.light = 1 << 20;
    expect(() => validateConfig(config, 2)).toThrow(/smaller than the largest frame record/);
  });
});
