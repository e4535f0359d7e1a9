// CHAINLANES_MAP_BYTES: the store's lmdb map, smaller where a process cannot map 1 TiB (valgrind).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapBytes, openEnvironment } from '../../src/ledger/tables.js';

describe('CHAINLANES_MAP_BYTES', () => {
  it('is 1 TiB unless set, and refuses what is not an integer from 1 GiB to 1 TiB, naming the variable', () => {
    expect(mapBytes({})).toBe(2 ** 40);
    expect(mapBytes({ CHAINLANES_MAP_BYTES: '' })).toBe(2 ** 40);
    expect(mapBytes({ CHAINLANES_MAP_BYTES: String(2 ** 34) })).toBe(2 ** 34);
    for (const bad of ['1e3', '1048576', String(2 ** 41), '16GiB', '-1']) {
      expect(() => mapBytes({ CHAINLANES_MAP_BYTES: bad }), bad).toThrow(/CHAINLANES_MAP_BYTES must be an integer number of bytes from 1073741824/);
    }
  });

  it('sizes the map a store opens with', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-map-'));
    const before = process.env.CHAINLANES_MAP_BYTES;
    process.env.CHAINLANES_MAP_BYTES = String(2 ** 33);
    try {
      const env = openEnvironment(dir);
      expect(env.getStats()).toMatchObject({ mapSize: 2 ** 33 });
      env.close();
    } finally {
      if (before === undefined) delete process.env.CHAINLANES_MAP_BYTES;
      else process.env.CHAINLANES_MAP_BYTES = before;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
