// docs/configuration.md against the schema it documents: every key of the
// config is listed, with the default the schema holds; every flag and
// environment variable `serve` reads is listed with its key. So the page
// cannot drift from src/config/schema.ts and src/config/load.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, PROCESS_BASELINE_BYTES, SWITCH_SETTINGS, TEXT_SETTINGS } from '../../src/config/index.js';
import { GatewayFleetSchema } from '../../src/fleet/index.js';
import { ROOT } from '../helpers/index.js';

const PAGE = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
/**
 * `fleet` is null by default; its keys (and their defaults) are those of a
 * fleet with only the three settings a gateway must be given.
 */
const CONFIG = {
  ...DEFAULT_CONFIG,
  fleet: GatewayFleetSchema.parse({ etcd: { endpoints: ['http://127.0.0.1:2379'] }, gatewayId: 'g1', advertiseUrl: 'http://g1:9001' }),
};
/** Keys documented as a whole (their inner keys are a table of their own). */
const WHOLE = new Set(['scheduler.laneTable', 'cores', 'balancer.declaredCapacity']);

/** Every table of the page as rows of cells keyed by header. */
function tables(page: string): Record<string, string>[][] {
  const found: Record<string, string>[][] = [];
  const lines = page.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|[-| ]+\|$/.test(lines[i + 1]!)) continue;
    const header = cells(lines[i]!);
    const rows: Record<string, string>[] = [];
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
      const row = cells(lines[i]!);
      rows.push(Object.fromEntries(header.map((name, j) => [name, row[j] ?? ''])));
    }
    found.push(rows);
  }
  return found;
}

function cells(line: string): string[] {
  return line
    .slice(1, -1)
    .split(' | ')
    .map((cell) => cell.trim());
}

/** The keys a cell names: `a.b`, `a.c` → a.b, a.c; `a.x/y` → a.x, a.y; a bare second name takes the first's prefix. */
function keysIn(cell: string): string[] {
  const names = [...cell.matchAll(/`([A-Za-z][\w.]*(?:\/\w+)*)`/g)].map((m) => m[1]!);
  const keys: string[] = [];
  let prefix = '';
  for (const name of names) {
    const full = name.includes('.') ? name : `${prefix}${name}`;
    const dot = full.lastIndexOf('.');
    prefix = dot < 0 ? '' : full.slice(0, dot + 1);
    const [first, ...alternatives] = full.split('/');
    keys.push(first!, ...alternatives.map((alt) => `${prefix}${alt}`));
  }
  return keys;
}

function leafKeys(value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || WHOLE.has(path)) return [path];
  return Object.entries(value).flatMap(([key, inner]) => leafKeys(inner, path === '' ? key : `${path}.${key}`));
}

function defaultOf(key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], CONFIG);
}

/** Defaults derived from the machine's memory (src/config/schema.ts BUFFER_DEFAULT): the page says what they are on a 24 GiB machine. */
const MACHINE_DEPENDENT = new Set(['limits.maxOutboundTotalBytes', 'limits.maxInboundTotalBytes', 'limits.maxUnsealedBytes', 'limits.memoryBudgetBytes']);
/** What a fleet must be given (the sample above made them up): they have no default. */
const NO_DEFAULT = new Set(['fleet.etcd.endpoints', 'fleet.gatewayId', 'fleet.advertiseUrl']);
const SIZES: [number, string][] = [
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** How the page may write one default: 65536 as "65,536" or "64 KiB", true as "true", a string as itself… */
function spellings(value: unknown): { plain: string[]; size?: [number, string] } {
  if (typeof value === 'number') {
    const size = SIZES.find(([unit]) => value >= unit && value % unit === 0);
    const plain = [value.toLocaleString('en-US'), String(value)];
    if (size !== undefined) plain.push(`${value / size[0]} ${size[1]}`);
    return { plain, size: size === undefined ? undefined : [value / size[0], size[1]] };
  }
  if (value === null) return { plain: ['null', 'none'] };
  if (Array.isArray(value) && value.length === 0) return { plain: ['[]'] };
  return { plain: [typeof value === 'object' ? JSON.stringify(value) : String(value)] };
}

/** The ways a row may state its keys' defaults together: "1,000, 30,000", "256/64/64 MiB", or one value. */
function statements(values: unknown[]): string[] {
  const each = values.map(spellings);
  if (values.length === 1) return each[0]!.plain;
  const combos: string[] = [];
  const product = (parts: string[][]): string[][] => parts.reduce<string[][]>((acc, options) => acc.flatMap((a) => options.map((o) => [...a, o])), [[]]);
  for (const combo of product(each.map((e) => e.plain))) combos.push(combo.join(', '), combo.join('/'));
  if (each.every((e) => e.size !== undefined && e.size[1] === each[0]!.size![1])) combos.push(`${each.map((e) => e.size![0]).join('/')} ${each[0]!.size![1]}`);
  return combos;
}

/** A cell that opens with prose ("half the machine's memory", "see below") states no plain value. */
function opensWithProse(cell: string): boolean {
  return /^[A-Za-z]/.test(cell) && !/^(true|false|null|none|info|auto)\b/.test(cell);
}

describe('docs/configuration.md', () => {
  const rows = tables(PAGE)
    .flat()
    .filter((row) => 'config key' in row);

  it('lists every key of the config, and no key the config does not have', () => {
    const documented = new Set(rows.flatMap((row) => keysIn(row['config key']!)));
    expect([...new Set(leafKeys(CONFIG))].filter((key) => !documented.has(key))).toEqual([]);
    expect([...documented].filter((key) => !leafKeys(CONFIG).includes(key))).toEqual([]);
  });

  it('states the default the schema holds, wherever it states a plain value', () => {
    let checked = 0;
    for (const row of rows) {
      const keys = keysIn(row['config key']!);
      const cell = (row.default ?? '').replace(/`/g, '');
      if (keys.length === 0 || cell === '' || opensWithProse(cell) || keys.some((key) => MACHINE_DEPENDENT.has(key) || NO_DEFAULT.has(key))) continue;
      const ways = statements(keys.map(defaultOf));
      expect(
        ways.some((way) => cell === way || [' ', ':', ',', '.', ';'].some((next) => cell.startsWith(way + next))),
        `${keys.join(', ')}: the page says "${row.default}", the schema ${JSON.stringify(keys.map(defaultOf))}`,
      ).toBe(true);
      checked += keys.length;
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('lists every flag and environment variable of serve with the key it sets', () => {
    const byEnv = new Map(rows.filter((row) => row.environment !== undefined).map((row) => [row.environment!.replace(/`/g, ''), row]));
    for (const setting of TEXT_SETTINGS) {
      const row = byEnv.get(setting.env);
      expect(row, setting.env).toBeDefined();
      expect(keysIn(row!['config key']!), setting.env).toEqual([setting.key]);
      if (setting.flag !== undefined) expect(row!.flag, setting.env).toContain(`--${setting.flag}`);
    }
    for (const setting of SWITCH_SETTINGS)
      expect(
        rows.some((row) => row.flag?.includes(`--${setting.flag}`)),
        setting.flag,
      ).toBe(true);
  });

  it("states the process's own baseline the memory budget counts, as the schema holds it", () => {
    const row = rows.find((r) => keysIn(r['config key']!).includes('limits.memoryBudgetBytes'));
    const MiB = 1024 * 1024;
    expect(row?.meaning).toContain(`the process's own baseline of ${PROCESS_BASELINE_BYTES / MiB} MiB`);
    // The smallest default budget: the baseline, the default rings and three and a quarter 16 MiB buffers.
    const rings = Object.values(DEFAULT_CONFIG.ringBytes).reduce((n, b) => n + b, 0);
    expect(row?.default).toContain(`${((PROCESS_BASELINE_BYTES + rings + 3.25 * 16 * MiB) / MiB).toLocaleString('en-US')} MiB`);
  });
});
