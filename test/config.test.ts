import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  DEFAULT_CONFIG,
  NO_FAULTS,
  PROCESS_BASELINE_BYTES,
  REALTIME_NODE_FLAGS,
  missingRealtimeNodeFlags,
  defaultConfig,
  faultsFromEnv,
  memoryHeld,
  resolveConfig,
  validateConfig,
} from '../src/config/index.js';
import { DEFAULT_LANE_TABLE, validateLaneTable } from '../src/scheduler/index.js';
import { tempDir } from './helpers/index.js';

// One folder for the file's config files, removed after its last test.
let dir: string;
beforeAll(() => {
  dir = tempDir('chainlanes-cfg-');
});

let files = 0;
function configFile(content: unknown): string {
  const file = join(dir, `c${files++}.json`);
  writeFileSync(file, JSON.stringify(content));
  return file;
}

/** The refusal's lines, or a failure if the config was taken. */
function refusal(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a refusal, but the config was taken');
}

describe('config', () => {
  it('parses the defaults', () => {
    expect(resolveConfig([], {})).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toMatchObject({
      host: '127.0.0.1',
      port: 9001,
      dataDir: './data',
      logLevel: 'info',
      logFormat: 'auto',
      cores: null,
      allowedHosts: [],
      allowedOrigins: [],
      limits: { maxConnections: null, maxConnectionsPerAddress: null },
      scheduler: { tickMs: 100, rebalanceEveryTicks: 10, laneTable: DEFAULT_LANE_TABLE },
      ledger: { blockIntervalMs: 500, anchorFile: null, commitWaitTimeoutMs: 30_000, unhealthyAfterSealFailures: 3 },
      anchors: { ethereum: { rpcUrl: null, confirmations: 12, bumpAfterSeconds: 180, bumpPercent: 15, maxFeePerGasGwei: 200, watchBlocks: 64 } },
    });
    expect(validateConfig(defaultConfig(), 2).lanes).toHaveLength(3);
    // A copy to change; the defaults themselves stay as they are.
    const copy = defaultConfig();
    copy.scheduler.laneTable.lanes.pop();
    expect(DEFAULT_CONFIG.scheduler.laneTable.lanes).toHaveLength(2);
    expect(Object.isFrozen(DEFAULT_CONFIG.scheduler)).toBe(true);
  });

  it('layers defaults < file < environment < flags', () => {
    const file = configFile({ port: 7000, host: '127.0.0.2', dataDir: '/from/file', logLevel: 'warn', ledger: { blockIntervalMs: 250 } });
    const config = resolveConfig(['--config', file, '--port', '7002', '--log-format', 'json'], {
      CHAINLANES_PORT: '7001',
      CHAINLANES_DATA: '/from/env',
      CHAINLANES_LOG_LEVEL: 'debug',
      CHAINLANES_LOG_FORMAT: 'pretty',
    });
    expect(config.port).toBe(7002);
    expect(config.dataDir).toBe('/from/env');
    expect(config.host).toBe('127.0.0.2');
    expect(config.logLevel).toBe('debug');
    expect(config.logFormat).toBe('json');
    expect(config.ledger.blockIntervalMs).toBe(250);
    expect(config.ledger.maxBlockEntries).toBe(65_536);
    // The file may also come from the environment; text that reads as a number is a number where one is wanted.
    const fromEnv = resolveConfig([], {
      CHAINLANES_CONFIG: file,
      CHAINLANES_BLOCK_INTERVAL_MS: '40',
      CHAINLANES_HOST: '1234',
      CHAINLANES_ANCHOR_FILE: '/a.jsonl',
    });
    expect(fromEnv).toMatchObject({ port: 7000, host: '1234', ledger: { blockIntervalMs: 40, anchorFile: '/a.jsonl' } });
    // An empty variable counts as unset.
    expect(resolveConfig([], { CHAINLANES_PORT: '' }).port).toBe(9001);
  });

  // Each: the value in the file, and what the refusal must say after the path and the value.
  const nonsense: [string, Record<string, unknown>, string, string][] = [
    ['scheduler.tauMs', { scheduler: { tauMs: 'abc' } }, '"abc"', 'an integer ≥ 1 (milliseconds)'],
    ['scheduler.tickMs', { scheduler: { tickMs: '100' } }, '"100"', 'an integer ≥ 10 (milliseconds)'],
    ['ledger.blockIntervalMs', { ledger: { blockIntervalMs: 'fast' } }, '"fast"', 'an integer ≥ 10 (milliseconds)'],
    ['host', { host: 42 }, '42', 'a host name or address (string)'],
    ['ledger.anchorFile', { ledger: { anchorFile: 5 } }, '5', 'a file path (string), or null for none'],
    ['scheduler.demoteAfterMs', { scheduler: { demoteAfterMs: -5 } }, '-5', 'an integer ≥ 0 (milliseconds)'],
    // `ticks % 0` is NaN: rebalancing would silently never run.
    ['scheduler.rebalanceEveryTicks', { scheduler: { rebalanceEveryTicks: 0 } }, '0', 'an integer ≥ 1 (ticks)'],
    ['scheduler.tickMs', { scheduler: { tickMs: 5 } }, '5', 'an integer ≥ 10 (milliseconds)'],
    ['port', { port: 65536 }, '65536', 'an integer from 0 to 65535'],
    ['limits.maxChains', { limits: { maxChains: 1.5 } }, '1.5', 'an integer ≥ 1'],
    ['ringBytes.light', { ringBytes: { light: 1000 } }, '1000', 'a power of two from 1024 (1 KiB) to 1073741824 (1 GiB) bytes'],
    ['logLevel', { logLevel: 'loud' }, '"loud"', 'one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'],
    ['logFormat', { logFormat: 'xml' }, '"xml"', 'one of "auto", "json", "pretty"'],
    ['ledger.commitWaitTimeoutMs', { ledger: { commitWaitTimeoutMs: 0 } }, '0', 'an integer ≥ 1 (milliseconds)'],
    ['ledger.unhealthyAfterSealFailures', { ledger: { unhealthyAfterSealFailures: 0 } }, '0', 'an integer ≥ 1 (failed seals in a row)'],
    ['scheduler.rebalance', { scheduler: { rebalance: 'yes' } }, '"yes"', 'true or false'],
    ['limits.maxConnections', { limits: { maxConnections: 0 } }, '0', 'an integer ≥ 1 (connections, or null for one from the file-descriptor limit)'],
    [
      'limits.maxConnectionsPerAddress',
      { limits: { maxConnectionsPerAddress: 'ten' } },
      '"ten"',
      'an integer ≥ 1 (connections, or null for half of maxConnections)',
    ],
    // Geth, Besu and Erigon refuse a replacement that raises the fees by less than 10 %.
    ['anchors.ethereum.bumpPercent', { anchors: { ethereum: { bumpPercent: 5 } } }, '5', 'an integer from 10 to 1000 (percent)'],
    [
      'anchors.ethereum.maxFeePerGasGwei',
      { anchors: { ethereum: { maxFeePerGasGwei: 0 } } },
      '0',
      'a fee per gas in gwei (number), from 0.000000001 (1 wei) to 1000000',
    ],
    [
      'anchors.ethereum.maxFeePerGasGwei',
      { anchors: { ethereum: { maxFeePerGasGwei: '50' } } },
      '"50"',
      'a fee per gas in gwei (number), from 0.000000001 (1 wei) to 1000000',
    ],
    ['anchors.ethereum.watchBlocks', { anchors: { ethereum: { watchBlocks: 5000 } } }, '5000', 'an integer from 0 to 1000 (blocks)'],
    ['anchors.ethereum.bumpAfterSeconds', { anchors: { ethereum: { bumpAfterSeconds: 0 } } }, '0', 'an integer ≥ 1 (seconds)'],
    // What browsers send is lower case, with no path: anything else could never match.
    ...['https://App.example', 'https://app.example/', 'app.example', 'null', 'ftp://app.example'].map(
      (origin): [string, Record<string, unknown>, string, string] => [
        'allowedOrigins[0]',
        { allowedOrigins: [origin] },
        JSON.stringify(origin),
        'an origin as browsers send it: scheme://host[:port], lower case, no path or trailing slash (e.g. "https://app.example.com"), or "*" for any',
      ],
    ),
    ...['http://gw.example', 'gw.example/path', 'gw example', '*:80'].map((host): [string, Record<string, unknown>, string, string] => [
      'allowedHosts[0]',
      { allowedHosts: [host] },
      JSON.stringify(host),
      'a host name or address as clients write it in the Host header, optionally with ":port" (no scheme, no path), or "*" for any',
    ]),
  ];
  it.each(nonsense)('refuses nonsense in %s, naming the path, the value and what is allowed', (path, content, value, allowed) => {
    const file = configFile(content);
    const lines = refusal(() => resolveConfig(['--config', file], {}));
    expect(lines).toEqual([`config file ${file}: ${path}: ${value} is not allowed: expected ${allowed}`]);
  });

  it('names every mistake of a file at once, one line each', () => {
    const file = configFile({ scheduler: { tauMs: 'abc', rebalanceEveryTicks: 0 }, host: 42 });
    expect(refusal(() => resolveConfig(['--config', file], {}))).toEqual([
      `config file ${file}: host: 42 is not allowed: expected a host name or address (string)`,
      `config file ${file}: scheduler.tauMs: "abc" is not allowed: expected an integer ≥ 1 (milliseconds)`,
      `config file ${file}: scheduler.rebalanceEveryTicks: 0 is not allowed: expected an integer ≥ 1 (ticks)`,
    ]);
  });

  it('refuses unknown keys, naming them, and unknown flags', () => {
    expect(() => resolveConfig(['--prot', '1'], {})).toThrow(/--prot/);
    const file = configFile({ scheduler: { tick: 5 }, ledger: { faults: 1 } });
    const lines = refusal(() => resolveConfig(['--config', file], {}));
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^config file ${file}: scheduler\\.tick: unknown key: expected one of tickMs, tauMs, `)),
      expect.stringMatching(/: ledger\.faults: unknown key: expected one of blockIntervalMs, /),
    ]);
    // Fault injection is not a setting.
    expect(refusal(() => resolveConfig(['--config', configFile({ faults: { crashWorkerAfterTasks: 3 } })], {}))[0]).toMatch(/: faults: unknown key/);
  });

  it('refuses a file that cannot be read or is not a JSON object', () => {
    expect(refusal(() => resolveConfig(['--config', join(dir, 'absent.json')], {}))[0]).toMatch(/^config file .*absent\.json: cannot be read/);
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ port: 1 }');
    expect(refusal(() => resolveConfig(['--config', notJson], {}))[0]).toMatch(/^config file .*not\.json: is not JSON/);
    const array = configFile([1]);
    expect(refusal(() => resolveConfig(['--config', array], {}))).toEqual([`config file ${array}: [1] is not allowed: expected an object`]);
  });

  it('coerces environment and flag text through the same schema, naming the variable or flag', () => {
    expect(refusal(() => resolveConfig([], { CHAINLANES_PORT: 'abc' }))).toEqual([
      'environment CHAINLANES_PORT: port: "abc" is not allowed: expected an integer from 0 to 65535',
    ]);
    expect(refusal(() => resolveConfig(['--port', 'abc'], {}))).toEqual(['flag --port: port: "abc" is not allowed: expected an integer from 0 to 65535']);
    expect(refusal(() => resolveConfig(['--port', '70000'], {}))[0]).toBe('flag --port: port: 70000 is not allowed: expected an integer from 0 to 65535');
    // Every source is checked before refusing.
    expect(refusal(() => resolveConfig(['--log-level', 'loud'], { CHAINLANES_BLOCK_INTERVAL_MS: '5' }))).toEqual([
      'environment CHAINLANES_BLOCK_INTERVAL_MS: ledger.blockIntervalMs: 5 is not allowed: expected an integer ≥ 10 (milliseconds)',
      expect.stringMatching(/^flag --log-level: logLevel: "loud" is not allowed: expected one of "fatal", /),
    ]);
    // A mistake in the file is named even when the environment overrides it.
    const file = configFile({ port: 'abc' });
    expect(refusal(() => resolveConfig(['--config', file], { CHAINLANES_PORT: '1' }))[0]).toMatch(new RegExp(`^config file ${file}: port: "abc"`));
  });

  it('refuses rings that cannot hold the largest frame', () => {
    const config = defaultConfig();
    config.ringBytes.light = 1 << 20;
    expect(refusal(() => validateConfig(config, 2))).toEqual([
      expect.stringMatching(/^config: ringBytes\.light: 1048576 is not allowed: expected a power of two ≥ \d+ bytes, to hold the largest frame record/),
    ]);
    const file = configFile({ limits: { maxFrameBytes: 128 * 1024 * 1024 } });
    // Heavy's default 256 MiB ring holds a 128 MiB frame; the 64 MiB rings do not.
    expect(refusal(() => resolveConfig(['--config', file], {}))).toEqual([
      expect.stringMatching(new RegExp(`^config file ${file}: ringBytes\\.medium: 67108864 is not allowed`)),
      expect.stringMatching(/: ringBytes\.light: 67108864 is not allowed/),
    ]);
  });

  it("refuses a memory budget that holds the bounds but not the process's own baseline, and the defaults fit their own budget", () => {
    const MiB = 1024 * 1024;
    const bounds = { maxUnsealedBytes: 64 * MiB, maxOutboundTotalBytes: 32 * MiB, maxInboundTotalBytes: 32 * MiB };
    const rings = { heavy: 64 * MiB, medium: 16 * MiB, light: 16 * MiB };
    const forClients = 1.25 * bounds.maxUnsealedBytes + bounds.maxOutboundTotalBytes + bounds.maxInboundTotalBytes + 96 * MiB;
    expect(memoryHeld({ limits: bounds, ringBytes: rings })).toBe(forClients + PROCESS_BASELINE_BYTES);
    // Enough for every bound, and not for the process itself: refused, naming the baseline.
    const tight = configFile({ limits: { ...bounds, memoryBudgetBytes: forClients + 16 * MiB }, ringBytes: rings });
    expect(refusal(() => resolveConfig(['--config', tight], {}))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^config file ${tight}: limits\\.memoryBudgetBytes: \\d+ is not allowed: expected at least ${forClients + PROCESS_BASELINE_BYTES} bytes: .*the process's own baseline of 576 MiB`,
        ),
      ),
    ]);
    const roomy = configFile({ limits: { ...bounds, memoryBudgetBytes: forClients + PROCESS_BASELINE_BYTES }, ringBytes: rings });
    expect(resolveConfig(['--config', roomy], {}).limits.memoryBudgetBytes).toBe(forClients + PROCESS_BASELINE_BYTES);
    expect(memoryHeld(DEFAULT_CONFIG)).toBeLessThanOrEqual(DEFAULT_CONFIG.limits.memoryBudgetBytes);
  });

  it('checks a config built in code as well, and named cores against the machine', () => {
    const config = defaultConfig();
    (config.scheduler as { tauMs: unknown }).tauMs = 'abc';
    expect(refusal(() => validateConfig(config, 2))).toEqual(['config: scheduler.tauMs: "abc" is not allowed: expected an integer ≥ 1 (milliseconds)']);
    const cores = { ...defaultConfig(), cores: { frontdoor: [0], heavy: [1], medium: [0, 5], light: [0] } };
    expect(refusal(() => validateConfig(cores, 2))).toEqual(['config: cores.medium[1]: 5 is not allowed: expected a core of this 2-core machine, 0 to 1']);
    expect(validateConfig(cores, 8).lanes).toEqual([[1], [0, 5], [0]]);
    const file = configFile({ cores: { frontdoor: [], heavy: [1], medium: [0], light: [0], threads: { heavy: 0, medium: 1, light: 1 } } });
    expect(refusal(() => resolveConfig(['--config', file], {}))).toEqual([
      `config file ${file}: cores.frontdoor: [] is not allowed: expected a non-empty list of core numbers`,
      `config file ${file}: cores.threads.heavy: 0 is not allowed: expected an integer ≥ 1`,
    ]);
  });
});

describe('lane table schema', () => {
  it('takes the default table and refuses bad ones, naming the path in the table', () => {
    expect(validateLaneTable(DEFAULT_LANE_TABLE)).toEqual(DEFAULT_LANE_TABLE);
    const source = 'lane table t.json';
    expect(refusal(() => validateLaneTable({ lanes: [{ lane: 'fastest' }], shareFloorEntriesPerSec: 0 }, source))).toEqual([
      'lane table t.json: lanes[0].lane: "fastest" is not allowed: expected one of "heavy", "medium", "light"',
    ]);
    expect(refusal(() => validateLaneTable({ lanes: [{ lane: 'heavy', minShare: -1 }], shareFloorEntriesPerSec: 0 }, source))).toEqual([
      'lane table t.json: lanes[0].minShare: -1 is not allowed: expected a number ≥ 0',
    ]);
    expect(refusal(() => validateLaneTable({ lanes: [{ lane: 'light' }, { lane: 'heavy' }], shareFloorEntriesPerSec: 0 }, source))).toEqual([
      'lane table t.json: lanes[1].lane: "heavy" is not allowed: expected lanes listed heaviest first, each once (heavy, medium, light)',
    ]);
    expect(refusal(() => validateLaneTable({ lanes: [{ lane: 'heavy', minShar: 1 }] }, source))).toEqual([
      'lane table t.json: lanes[0].minShar: unknown key: expected one of lane, minEntriesPerSec, minBytesPerSec, minShare',
      'lane table t.json: shareFloorEntriesPerSec: missing: expected a number ≥ 0 (entries/s)',
    ]);
  });

  it('is the one the config embeds', () => {
    const file = configFile({ scheduler: { laneTable: { lanes: [{ lane: 'medium' }, { lane: 'medium' }], shareFloorEntriesPerSec: -1 } } });
    expect(refusal(() => resolveConfig(['--config', file], {}))).toEqual([
      `config file ${file}: scheduler.laneTable.shareFloorEntriesPerSec: -1 is not allowed: expected a number ≥ 0 (entries/s)`,
    ]);
    const order = configFile({ scheduler: { laneTable: { lanes: [{ lane: 'medium' }, { lane: 'medium' }], shareFloorEntriesPerSec: 0 } } });
    expect(refusal(() => resolveConfig(['--config', order], {}))[0]).toMatch(
      /: scheduler\.laneTable\.lanes\[1\]\.lane: "medium" is not allowed: expected lanes listed heaviest first/,
    );
  });
});

describe('CHAINLANES_TEST_FAULTS', () => {
  it('is off unless set, and parses a JSON object of fault counts', () => {
    expect(faultsFromEnv({})).toEqual(NO_FAULTS);
    expect(NO_FAULTS).toEqual({ crashWorkerAfterTasks: 0, failSealsAfter: 0, failSealAttempts: 0, sealerDrainEveryMs: 0, killAnchorAfterBumpStored: 0 });
    expect(faultsFromEnv({ CHAINLANES_TEST_FAULTS: '{"failSealsAfter":1,"failSealAttempts":4}' })).toEqual({
      crashWorkerAfterTasks: 0,
      failSealsAfter: 1,
      failSealAttempts: 4,
      sealerDrainEveryMs: 0,
      killAnchorAfterBumpStored: 0,
    });
  });

  it('refuses what it cannot use, with a clear message', () => {
    expect(refusal(() => faultsFromEnv({ CHAINLANES_TEST_FAULTS: 'crash' }))[0]).toMatch(
      /^environment CHAINLANES_TEST_FAULTS: "crash" is not allowed: expected a JSON object such as /,
    );
    expect(refusal(() => faultsFromEnv({ CHAINLANES_TEST_FAULTS: '{"crashWorkerAfterTasks":-1,"crash":1}' }))).toEqual([
      'environment CHAINLANES_TEST_FAULTS: crashWorkerAfterTasks: -1 is not allowed: expected an integer ≥ 0 (tasks; 0 = never)',
      'environment CHAINLANES_TEST_FAULTS: crash: unknown key: expected one of crashWorkerAfterTasks, failSealsAfter, failSealAttempts, sealerDrainEveryMs, killAnchorAfterBumpStored',
    ]);
  });
});

// The node flags a real-time front door wants, as the gateway's start-up check reads them.
describe('missingRealtimeNodeFlags', () => {
  it('names every flag node was started without', () => {
    expect(REALTIME_NODE_FLAGS).toEqual(['--single-threaded-gc', '--max-semi-space-size=4']);
    expect(missingRealtimeNodeFlags([])).toEqual(REALTIME_NODE_FLAGS);
    expect(missingRealtimeNodeFlags(['--single-threaded-gc', '--enable-source-maps'])).toEqual(['--max-semi-space-size=4']);
  });

  it('counts a flag by its name, whatever value and spelling V8 accepts', () => {
    expect(missingRealtimeNodeFlags(['--max-semi-space-size=16', '--single-threaded-gc'])).toEqual([]);
    expect(missingRealtimeNodeFlags(['--max_semi_space_size', '4', '--single_threaded_gc'])).toEqual([]);
    // A flag that only starts like one is another flag.
    expect(missingRealtimeNodeFlags(['--single-threaded-gc-in-background', '--max-semi-space-size=4'])).toEqual(['--single-threaded-gc']);
  });
});
