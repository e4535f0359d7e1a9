// Gateway configuration: defaults < config file (--config, JSON) < environment < flags.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { LANE_COUNT, LANE_NAMES, recordBytesFor } from './ring/index.js';
import {
  DEFAULT_LANE_TABLE, customCoreLayout, defaultCoreLayout, validateLaneTable,
  type CoreLayout, type LaneTable,
} from './scheduler/index.js';

export interface LaneNumbers {
  heavy: number;
  medium: number;
  light: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  dataDir: string;
  limits: {
    maxFrameBytes: number;
    maxEntryBytes: number;
    maxEntriesPerFrame: number;
    maxChains: number;
    /** Per connection: replies buffered for a client that does not read; past it the connection is closed. */
    maxOutboundBytes: number;
    /** Entries accepted but not yet durable; past it new frames get `busy`. */
    maxUnsealedBytes: number;
  };
  /** Ring data bytes per lane, each a power of two. */
  ringBytes: LaneNumbers;
  /** null: derived from the machine's core count. */
  cores: null | { frontdoor: number[]; sealer?: number[]; heavy: number[]; medium: number[]; light: number[]; threads?: LaneNumbers };
  scheduler: {
    tickMs: number;
    tauMs: number;
    demoteAfterMs: number;
    rebalance: boolean;
    rebalanceEveryTicks: number;
    /** Seeds the store's lane table when the store has none; after that the store's is used. */
    laneTable: LaneTable;
    laneTablePollMs: number;
  };
  ledger: {
    blockIntervalMs: number;
    maxBlockEntries: number;
    /** Also append each directory hash as a JSON line to this file. */
    anchorFile: string | null;
    /** Threads that read blocks and build proofs for HTTP, off the front door's thread. */
    readerThreads: number;
    /** How long `POST …/entries?wait=committed` waits for the commit. */
    commitWaitTimeoutMs: number;
    /** Failed seal attempts in a row after which /healthz answers 503. */
    unhealthyAfterSealFailures: number;
  };
  /** For tests of failure handling only. */
  faults: {
    /** Every lane worker exits on this task (0 = never). */
    crashWorkerAfterTasks: number;
    /** After this many successful seals, the next `failSealAttempts` store transactions fail. */
    failSealsAfter: number;
    failSealAttempts: number;
  };
}

const MiB = 1024 * 1024;

export function defaultConfig(): GatewayConfig {
  return {
    host: '127.0.0.1',
    port: 9001,
    dataDir: './data',
    limits: {
      maxFrameBytes: 16 * MiB,
      maxEntryBytes: 64 * 1024,
      maxEntriesPerFrame: 65_536,
      maxChains: 10_000,
      maxOutboundBytes: 16 * MiB,
      maxUnsealedBytes: 1024 * MiB,
    },
    ringBytes: { heavy: 256 * MiB, medium: 64 * MiB, light: 64 * MiB },
    cores: null,
    scheduler: {
      tickMs: 100,
      tauMs: 500,
      demoteAfterMs: 5_000,
      rebalance: true,
      rebalanceEveryTicks: 10,
      laneTable: DEFAULT_LANE_TABLE,
      laneTablePollMs: 1_000,
    },
    ledger: { blockIntervalMs: 500, maxBlockEntries: 65_536, anchorFile: null, readerThreads: 1, commitWaitTimeoutMs: 30_000, unhealthyAfterSealFailures: 3 },
    faults: { crashWorkerAfterTasks: 0, failSealsAfter: 0, failSealAttempts: 0 },
  };
}

type Plain = { [key: string]: unknown };

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges `patch` into `base`, refusing keys the base does not have (typos must not pass silently). */
export function mergeConfig(base: GatewayConfig, patch: unknown, source: string): GatewayConfig {
  return mergeInto(structuredClone(base) as unknown as Plain, patch, source, '') as unknown as GatewayConfig;
}

function mergeInto(base: Plain, patch: unknown, source: string, path: string): Plain {
  if (!isPlain(patch)) throw new Error(`${source}: ${path || 'config'} must be an object`);
  for (const [key, value] of Object.entries(patch)) {
    const where = path ? `${path}.${key}` : key;
    if (!(key in base)) throw new Error(`${source}: unknown setting "${where}"`);
    const current = base[key];
    base[key] = isPlain(current) && isPlain(value) && where !== 'scheduler.laneTable' ? mergeInto(current, value, source, where) : value;
  }
  return base;
}

export function loadConfigFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Settings the environment may set, and where they go. */
const ENV: Record<string, (value: string) => Plain> = {
  CHAINLANES_HOST: (v) => ({ host: v }),
  CHAINLANES_PORT: (v) => ({ port: toInt(v, 'CHAINLANES_PORT') }),
  CHAINLANES_DATA: (v) => ({ dataDir: v }),
  CHAINLANES_BLOCK_INTERVAL_MS: (v) => ({ ledger: { blockIntervalMs: toInt(v, 'CHAINLANES_BLOCK_INTERVAL_MS') } }),
  CHAINLANES_ANCHOR_FILE: (v) => ({ ledger: { anchorFile: v } }),
};

export function envPatches(env: NodeJS.ProcessEnv): Plain[] {
  const patches: Plain[] = [];
  for (const [name, toPatch] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') patches.push(toPatch(value));
  }
  return patches;
}

export function toInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got "${value}"`);
  return n;
}

/** Checks the whole config and returns the core layout it implies. */
export function validateConfig(config: GatewayConfig, cpuCount = availableParallelism()): CoreLayout {
  const { limits } = config;
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) throw new Error(`port must be 0..65535, got ${config.port}`);
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`limits.${key} must be a positive integer, got ${String(value)}`);
  }
  const largestRecord = recordBytesFor(limits.maxFrameBytes, limits.maxEntriesPerFrame);
  for (const lane of LANE_NAMES) {
    const bytes = config.ringBytes[lane];
    if (!Number.isInteger(bytes) || bytes < 1024 || (bytes & (bytes - 1)) !== 0 || bytes > 2 ** 30) {
      throw new Error(`ringBytes.${lane} must be a power of two from 1 KiB to 1 GiB, got ${bytes}`);
    }
    if (bytes < largestRecord) {
      // A frame that can never fit would get `busy` forever: refuse the config instead.
      throw new Error(`ringBytes.${lane} (${bytes}) is smaller than the largest frame record (${largestRecord} bytes for limits.maxFrameBytes and maxEntriesPerFrame)`);
    }
  }
  if (config.ledger.blockIntervalMs < 10) throw new Error('ledger.blockIntervalMs must be at least 10');
  if (config.ledger.maxBlockEntries < 1) throw new Error('ledger.maxBlockEntries must be positive');
  if (!Number.isInteger(config.ledger.readerThreads) || config.ledger.readerThreads < 1) throw new Error('ledger.readerThreads must be a positive integer');
  if (config.scheduler.tickMs < 10) throw new Error('scheduler.tickMs must be at least 10');
  validateLaneTable(config.scheduler.laneTable);
  const c = config.cores;
  if (c === null) return defaultCoreLayout(cpuCount);
  const threads = c.threads === undefined ? undefined : LANE_NAMES.map((lane) => c.threads![lane]);
  const layout = customCoreLayout(cpuCount, c.frontdoor, [c.heavy, c.medium, c.light], threads, c.sealer);
  if (layout.lanes.length !== LANE_COUNT) throw new Error('core layout: wrong lane count');
  return layout;
}

/** The serve command's config from its flags and the environment. */
export function resolveConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  });
  let config = defaultConfig();
  const file = values.config ?? env.CHAINLANES_CONFIG;
  if (file !== undefined && file !== '') config = mergeConfig(config, loadConfigFile(file), file);
  for (const patch of envPatches(env)) config = mergeConfig(config, patch, 'environment');
  const flags: Record<string, unknown> = {};
  if (values.host !== undefined) flags.host = values.host;
  if (values.port !== undefined) flags.port = toInt(values.port, '--port');
  if (values.data !== undefined) flags.dataDir = values.data;
  return mergeConfig(config, flags, 'flags');
}
