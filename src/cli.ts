#!/usr/bin/env node
// chainlanes serve | verify | lanes | keygen | doctor | bench
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  CONFIG_FILE_ENV, ConfigError, DEFAULT_CONFIG, checkTlsFiles, SWITCH_SETTINGS, TEST_FAULTS_ENV, TEXT_SETTINGS, faultsFromEnv, hasFaults, readJsonFile, resolveConfig,
} from './config/index.js';
import { ADMIN_KEY_ENV, checkOpenBind, readAdminKey } from './credits/index.js';
import { packageRoot } from './paths.js';
import { createLogger, errorMessage } from './log/index.js';

const settingRows: [flag: string, env: string, key: string][] = [
  ['flag', 'environment', 'config key'],
  ['--config FILE', CONFIG_FILE_ENV, ''],
  ...TEXT_SETTINGS.map((s): [string, string, string] => [s.flag === undefined ? '' : `--${s.flag}`, s.env, s.key]),
  ...SWITCH_SETTINGS.map((s): [string, string, string] => [`--${s.flag}`, '', s.key]),
  ['', ADMIN_KEY_ENV, '(the admin key itself; never in a config file)'],
];
const settingLines = settingRows.map(([flag, env, key]) => `  ${flag.padEnd(18)} ${env.padEnd(30)} ${key}`.trimEnd()).join('\n');

const USAGE = `usage:
  chainlanes serve [--host H] [--port P] [--data DIR] [--config FILE] [--log-level L] [--log-format F]
                   [--admin-key-file FILE] [--insecure-open]
                   [--tls-cert FILE --tls-key FILE]
  chainlanes verify [--data DIR]                 check blocks, proofs, and credits (supply, burns per block)
  chainlanes verify [--data DIR] --anchors RPC_URL   … and every confirmed anchor window's transaction on that node
  chainlanes verify --entry URL|FILE [--anchors RPC_URL]
                                               check one entry proof (GET …/entries/{seq}) offline, and with
                                               --anchors its anchor transaction on that Ethereum node
  chainlanes keygen                             print a new key (for ${ADMIN_KEY_ENV} or auth.adminKeyFile)
  chainlanes lanes [--data DIR] [--set FILE]   show the lane table in the store, or replace it
                                               (a running gateway applies it within a second)
  chainlanes doctor [--data DIR] [--config FILE] [--disk-seconds S] [--json]
                                               what this machine offers the gateway, and what to change
  chainlanes bench [bench flags…]      (same as npm run bench -- …)
  chainlanes COMMAND --help | --version

serve: defaults < --config FILE (JSON) < CHAINLANES_* environment < flags.
With an admin key the gateway is authenticated (accounts, keys, credits); without one it is
open (chains free to anyone) and listens on loopback only unless --insecure-open.
${settingLines}
CHAINLANES_NATIVE=0: pure-JS hashing.
${TEST_FAULTS_ENV}: for tests of failure handling only, never in production: JSON such as
  {"crashWorkerAfterTasks":3} or {"failSealsAfter":1,"failSealAttempts":4}.

Exit status: 2 for a refused config or wrong usage, 1 for a failure while running.`;

/** Each command's own help (`chainlanes COMMAND --help`); the settings table is serve's. */
const COMMAND_HELP: Record<string, string> = {
  serve: `usage: chainlanes serve [flags]
Runs the gateway until SIGINT or SIGTERM (then answers frames in flight, seals, and exits 0).
With --tls-cert and --tls-key it serves only https:// and wss://.
defaults < --config FILE (JSON) < CHAINLANES_* environment < flags:
${settingLines}`,
  verify: `usage: chainlanes verify [--data DIR]
Checks every block, proof and hash link in the store, and the credits (supply, burns per block).
Exit 0 when all verify, 1 at the first break (named).`,
  lanes: `usage: chainlanes lanes [--data DIR] [--set FILE]
Prints the lane table in the store, or replaces it with the JSON in FILE (a running gateway applies it within a second).`,
  keygen: `usage: chainlanes keygen
Prints a new key, for ${ADMIN_KEY_ENV} or auth.adminKeyFile.`,
  doctor: `usage: chainlanes doctor [--data DIR] [--config FILE] [--disk-seconds S] [--json]
Prints what this machine offers the gateway (cores and which are isolated, memory, file limit,
native addon, the data directory's disk: 4 KiB writes with fdatasync and sequential writes for at
most S seconds, default 1) and what an operator would change (deploy/README.md). --json: as JSON.`,
  bench: `usage: chainlanes bench [bench flags…]
The load generator and benchmarks (same as npm run bench -- …); chainlanes bench --help lists its flags.`,
};

/** The package's version, from its package.json. */
function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

// A command's own output and refusals are written plainly; the server's events
// go through the logger (src/log), which `serve` builds from the config.
function print(text: string): void {
  process.stdout.write(text + '\n');
}

function printError(text: string): void {
  process.stderr.write(text + '\n');
}

function fail(message: string): never {
  printError(`chainlanes: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function serve(argv: string[]): Promise<void> {
  const config = resolveConfig(argv, process.env);
  // Refused before anything starts: a key file others can read, or an open gateway on a public address.
  const adminKey = readAdminKey(config.auth, process.env);
  checkOpenBind(config.host, config.auth, adminKey);
  checkTlsFiles(config.tls);
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  // Tests only: faults come from their own variable, never from the config, so
  // no config file or flag can turn them on.
  const faults = faultsFromEnv(process.env);
  if (hasFaults(faults)) log.warn({ event: 'test-faults', faults }, `${TEST_FAULTS_ENV} is set: injecting faults (tests only)`);
  const { Gateway } = await import('./gateway.js');
  // Handlers go in before the start: the "listening" line is logged inside it,
  // and a supervisor (or a test) that signals right after reading it must get a
  // clean shutdown, not the default death by signal.
  let started: ReturnType<typeof Gateway.start> | null = null;
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      log.warn({ event: 'shutdown', signal }, `second ${signal}, exiting without finishing`);
      process.exit(130);
    }
    log.info({ event: 'shutdown', signal }, `${signal}: answering frames in flight and sealing, then exiting`);
    if (started === null) process.exit(0);
    started.then((gateway) => gateway.stop()).then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ event: 'shutdown-failed', err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  started = Gateway.start(config, { faults, log, adminKey });
  try {
    await started;
  } catch (error) {
    log.fatal({ event: 'start-failed', error: errorMessage(error) }, `cannot start: ${errorMessage(error)}`);
    // A refused setting (the lane table in the store, say) is the operator's to fix: status 2, like a refused config.
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
}

async function verify(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' }, entry: { type: 'string' }, anchors: { type: 'string' } }, strict: true });
  if (values.entry !== undefined) return verifyEntryProof(values.entry, values.anchors);
  const dir = values.data ?? process.env.CHAINLANES_DATA ?? DEFAULT_CONFIG.dataDir;
  const { verifyStore, verifyStoreIsolated } = await import('./ledger/index.js');
  const { CreditCheck } = await import('./credits/index.js');
  // The ledger's walk runs in a child process first: lmdb crashing on a damaged
  // file must be reported, not take the command down. Once it passed, the
  // credit tables are checked in the same kind of walk here.
  const walked = await verifyStoreIsolated(dir);
  const report = walked.ok ? await verifyStore(dir, { checks: [new CreditCheck()] }) : walked;
  const summary = `${report.chains} chains, ${report.blocks} entry blocks, ${report.entries} entries, ${report.directories} directory blocks`;
  if (report.ok) {
    print(`chainlanes verify: OK: ${summary} in ${dir}`);
    for (const line of report.checks ?? []) print(`chainlanes verify: OK: ${line}`);
    if (values.anchors !== undefined) await verifyStoreAnchors(dir, values.anchors);
    return;
  }
  printError(`chainlanes verify: BROKEN: ${report.firstBreak ?? 'unknown break'} (checked before it: ${summary})`);
  process.exit(1);
}

/** One entry proof, from a gateway URL or a file: its hashes up to the directory, and with `rpcUrl` up to its anchor transaction. */
async function verifyEntryProof(source: string, rpcUrl: string | undefined): Promise<void> {
  const { verifyEntry, verifyAnchor } = await import('./client/index.js');
  const { readFileSync } = await import('node:fs');
  let proof: Parameters<typeof verifyEntry>[0];
  try {
    const text = /^https?:\/\//.test(source) ? await fetchText(source) : readFileSync(source, 'utf8');
    proof = JSON.parse(text) as typeof proof;
  } catch (error) {
    printError(`chainlanes verify: cannot read the proof at ${source}: ${errorMessage(error)}`);
    process.exit(1);
  }
  const what = `chain ${JSON.stringify(proof.chain)} seq ${proof.seq}`;
  const offline = verifyEntry(proof);
  if (!offline.ok) {
    printError(`chainlanes verify: BROKEN: ${what}: ${offline.reason}`);
    process.exit(1);
  }
  print(`chainlanes verify: OK: ${what}: entry → block ${proof.height} → directory ${proof.directory?.height ?? '(not sealed)'}` +
    (proof.anchor === undefined ? '' : ` → anchor window ${proof.anchor.window.first}…${proof.anchor.window.last}`));
  if (rpcUrl === undefined) return;
  const anchored = await verifyAnchor(proof, rpcUrl);
  if (!anchored.ok) {
    printError(`chainlanes verify: BROKEN: ${what}: ${anchored.reason}`);
    process.exit(1);
  }
  print(`chainlanes verify: OK: ${what}: anchored by transaction ${proof.anchor!.tx} in block ${anchored.blockNumber} (${proof.anchor!.blockHash}) ` +
    `of chain id ${anchored.networkId}, ${anchored.confirmations} confirmations`);
}

/** Every confirmed anchor window of the store: its root from the store's directory hashes, its transaction on the node. */
async function verifyStoreAnchors(dir: string, rpcUrl: string): Promise<void> {
  const { storedWindows } = await import('./anchors/index.js');
  const { verifyAnchorTransaction } = await import('./client/index.js');
  const windows = await storedWindows(dir);
  if (windows.broken !== null) {
    printError(`chainlanes verify: BROKEN: ${windows.broken}`);
    process.exit(1);
  }
  for (const anchor of windows.confirmed) {
    const result = await verifyAnchorTransaction(anchor, rpcUrl);
    if (!result.ok) {
      printError(`chainlanes verify: BROKEN: anchor window ${anchor.window.first}…${anchor.window.last}: ${result.reason}`);
      process.exit(1);
    }
  }
  const last = windows.confirmed.at(-1);
  print(`chainlanes verify: OK: anchors: ${windows.confirmed.length} confirmed windows` +
    (last === undefined ? '' : ` (directories 0…${last.window.last})`) + ` found in their transactions on ${rpcUrl}, ${windows.pending} not yet confirmed`);
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

async function lanes(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' }, set: { type: 'string' } }, strict: true });
  const dir = values.data ?? process.env.CHAINLANES_DATA ?? DEFAULT_CONFIG.dataDir;
  const { StoredSettings, LANE_TABLE_KEY, assertStoreExists, checkStoreFile } = await import('./ledger/index.js');
  const scheduler = await import('./scheduler/index.js');
  // Checked before the store is opened: a refused table leaves the store untouched.
  const table = values.set === undefined ? undefined : scheduler.validateLaneTable(readJsonFile(values.set, 'lane table'), `lane table ${values.set}`);
  assertStoreExists(dir);
  await checkStoreFile(dir);
  const settings = StoredSettings.open(dir);
  try {
    if (table === undefined) {
      const stored = settings.get(LANE_TABLE_KEY);
      print(JSON.stringify(stored ?? scheduler.DEFAULT_LANE_TABLE, null, 2));
      if (stored === null) printError('chainlanes lanes: no lane table in this store yet; the default above applies');
      return;
    }
    await settings.put(LANE_TABLE_KEY, table);
    print(`chainlanes lanes: lane table stored in ${dir}; a running gateway applies it within a second`);
  } finally {
    await settings.close();
  }
}

async function keygen(argv: string[]): Promise<void> {
  parseArgs({ args: argv, options: {}, strict: true });
  const { newKey } = await import('./credits/index.js');
  print(newKey());
}

async function doctor(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { data: { type: 'string' }, config: { type: 'string' }, 'disk-seconds': { type: 'string', default: '1' }, json: { type: 'boolean', default: false } },
  });
  const diskSeconds = Number(values['disk-seconds']);
  if (!(diskSeconds > 0 && diskSeconds <= 60)) throw new ConfigError([`flag --disk-seconds: ${JSON.stringify(values['disk-seconds'])} is not allowed: expected seconds, more than 0 and at most 60`]);
  const serveFlags = [...(values.data === undefined ? [] : ['--data', values.data]), ...(values.config === undefined ? [] : ['--config', values.config])];
  const config = resolveConfig(serveFlags, process.env);
  const { validateConfig } = await import('./config/index.js');
  const { descriptorLimit } = await import('./frontdoor/index.js');
  const { nativeLoaded, nativeLoadError } = await import('./native/index.js');
  const { chooseUws } = await import('./uws/index.js');
  const { examine, formatCpuList, uwsLines } = await import('./doctor/index.js');
  const { attempts, problem } = chooseUws();
  const report = examine({
    config, layout: validateConfig(config), fileLimit: descriptorLimit(), native: { loaded: nativeLoaded, error: nativeLoadError }, uws: { attempts, problem }, diskSeconds,
  });
  if (values.json) return print(JSON.stringify(report, null, 2));
  const MiB = 1024 * 1024;
  const mib = (n: number): string => `${Math.round(n / MiB)} MiB`;
  const { cpu, memory, disk } = report;
  const lanes = cpu.layout.lanes.map((cores, i) => `${['heavy', 'medium', 'light'][i]} ${formatCpuList(cores)}`).join(', ');
  print(`chainlanes doctor ${version()}\nsees:`);
  print(`  cores        ${cpu.count}; isolated: ${cpu.isolated === null ? 'unknown' : cpu.isolated.length === 0 ? 'none' : formatCpuList(cpu.isolated)}; governor: ${cpu.governor ?? 'none'}`);
  print(`  layout       front door ${formatCpuList(cpu.layout.frontdoor)}, sealer ${formatCpuList(cpu.layout.sealer)}, ${lanes}`);
  print(`  memory       ${mib(memory.totalBytes)} total, ${mib(memory.freeBytes)} free; budget ${mib(memory.budgetBytes)} (rings ${mib(memory.ringBytes)}, unsealed bound ${mib(memory.maxUnsealedBytes)})`);
  print(`  file limit   ${report.fileLimit.soft ?? 'unknown'}`);
  print(`  native addon ${report.native.loaded ? 'loaded' : `NOT loaded (${report.native.error})`}`);
  uwsLines(report.uws).forEach((line, i) => print(`  ${i === 0 ? 'uWebSockets' : '           '}  ${line}`));
  print(`  disk         ${disk.dataDir}${disk.sharesRootDevice ? ' (on the root device)' : ''}: 4 KiB write + fdatasync ${disk.syncedWriteMs.toFixed(2)} ms ` +
    `(${disk.syncedWrites} in the test), sequential ${disk.sequentialMiBPerSec.toFixed(0)} MiB/s`);
  print(report.changes.length === 0 ? 'would change: nothing' : 'would change:');
  for (const change of report.changes) print(`  - ${change.what}: ${change.why}.\n    how: ${change.how}`);
}

async function bench(argv: string[]): Promise<void> {
  process.argv = [process.argv[0]!, 'bench', ...argv];
  await import(pathToFileURL(join(packageRoot(), 'dist', 'bench', 'run.js')).href);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === '--version' || command === '-v' || (command !== undefined && command in COMMAND_HELP && rest.includes('--version'))) return print(`chainlanes ${version()}`);
  // bench has flags of its own and answers --help itself.
  if (command !== undefined && command !== 'bench' && command in COMMAND_HELP && (rest.includes('--help') || rest.includes('-h'))) return print(COMMAND_HELP[command]!);
  try {
    if (command === 'serve') await serve(rest);
    else if (command === 'verify') await verify(rest);
    else if (command === 'lanes') await lanes(rest);
    else if (command === 'keygen') await keygen(rest);
    else if (command === 'doctor') await doctor(rest);
    else if (command === 'bench') await bench(rest);
    else if (command === undefined || command === '--help' || command === '-h' || command === 'help') print(USAGE);
    else fail(`unknown command "${command}"`);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) printError(`chainlanes: ${problem}`);
      process.exit(2);
    }
    if (isUsageError(error)) fail(error.message);
    printError(`chainlanes: ${errorMessage(error)}`);
    process.exit(1);
  }
}

/** parseArgs refusing a flag or a value. */
function isUsageError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');
}

void main();
