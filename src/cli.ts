#!/usr/bin/env node
// chainlanes serve | verify | bench
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { resolveConfig } from './config.js';
import { packageRoot } from './paths.js';

const USAGE = `usage:
  chainlanes serve [--host H] [--port P] [--data DIR] [--config FILE]
  chainlanes verify [--data DIR]
  chainlanes lanes [--data DIR] [--set FILE]   show the lane table in the store, or replace it
                                               (a running gateway applies it within a second)
  chainlanes bench [bench flags…]      (same as npm run bench -- …)

serve: defaults < --config FILE (JSON) < CHAINLANES_* environment < flags.
Environment: CHAINLANES_HOST, CHAINLANES_PORT, CHAINLANES_DATA, CHAINLANES_CONFIG,
CHAINLANES_BLOCK_INTERVAL_MS, CHAINLANES_ANCHOR_FILE, CHAINLANES_NATIVE=0 (pure-JS hashing).`;

function fail(message: string): never {
  console.error(`chainlanes: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function serve(argv: string[]): Promise<void> {
  const { Gateway } = await import('./gateway.js');
  const gateway = await Gateway.start(resolveConfig(argv, process.env));
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      console.error(`chainlanes: second ${signal}, exiting without finishing`);
      process.exit(130);
    }
    console.log(`chainlanes: ${signal}: answering frames in flight and sealing, then exiting`);
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('chainlanes: shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

async function verify(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' } }, strict: true });
  const dir = values.data ?? process.env.CHAINLANES_DATA ?? './data';
  const { verifyStore } = await import('./ledger/index.js');
  const report = await verifyStore(dir);
  const summary = `${report.chains} chains, ${report.blocks} entry blocks, ${report.entries} entries, ${report.directories} directory blocks`;
  if (report.ok) {
    console.log(`chainlanes verify: OK: ${summary} in ${dir}`);
    return;
  }
  console.error(`chainlanes verify: BROKEN: ${report.firstBreak ?? 'unknown break'} (checked before it: ${summary})`);
  process.exit(1);
}

async function lanes(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' }, set: { type: 'string' } }, strict: true });
  const dir = values.data ?? process.env.CHAINLANES_DATA ?? './data';
  const { StoredSettings, LANE_TABLE_KEY, assertStoreExists } = await import('./ledger/index.js');
  const scheduler = await import('./scheduler/index.js');
  const { loadConfigFile } = await import('./config.js');
  assertStoreExists(dir);
  const settings = StoredSettings.open(dir);
  try {
    if (values.set === undefined) {
      const stored = settings.get(LANE_TABLE_KEY);
      console.log(JSON.stringify(stored ?? scheduler.DEFAULT_LANE_TABLE, null, 2));
      if (stored === null) console.error('chainlanes lanes: no lane table in this store yet; the default above applies');
      return;
    }
    const table = loadConfigFile(values.set);
    scheduler.validateLaneTable(table);
    await settings.put(LANE_TABLE_KEY, table);
    console.log(`chainlanes lanes: lane table stored in ${dir}; a running gateway applies it within a second`);
  } finally {
    await settings.close();
  }
}

async function bench(argv: string[]): Promise<void> {
  process.argv = [process.argv[0]!, 'bench', ...argv];
  await import(pathToFileURL(join(packageRoot(), 'dist', 'bench', 'run.js')).href);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'serve') await serve(rest);
    else if (command === 'verify') await verify(rest);
    else if (command === 'lanes') await lanes(rest);
    else if (command === 'bench') await bench(rest);
    else if (command === undefined || command === '--help' || command === 'help') console.log(USAGE);
    else fail(`unknown command "${command}"`);
  } catch (error) {
    console.error(`chainlanes: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

void main();
