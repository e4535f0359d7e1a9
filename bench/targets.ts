// Starting and stopping the gateways under test. Each is a child process of
// its own (so its CPU time can be read from /proc), bound to 127.0.0.1 with an
// OS-chosen port that it announces on stdout, and always killed at the end.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetName } from './options.js';
import { newKey } from '../src/credits/index.js';
import { spawnServer, stopServer, untilListening } from './server-process.js';

export interface RunningTarget {
  name: TargetName;
  /** ws://127.0.0.1:PORT */
  url: string;
  pid: number;
  /** chainlanes: its store, kept until stop() so that it can be verified after exit(). */
  dataDir: string | undefined;
  /** SIGTERM (SIGKILL past the grace) and wait; the data directory stays. Resolves with how it ended, e.g. "0" or "SIGKILL". */
  exit(): Promise<string>;
  /** exit(), then remove the data directory and config file. */
  stop(): Promise<void>;
  /** The admin key of a gateway started in authenticated mode (credits on). */
  adminKey?: string;
}

/** The chainlanes gateway itself, with credits (an admin key) or in open mode without: not a peer. */
export const isGateway = (name: TargetName): boolean => name === 'chainlanes' || name === 'chainlanes-open';

export interface StartOptions {
  /** Copy the target's own output to stderr. */
  verbose?: boolean;
  /** chainlanes only: the content of a --config file (any subset of the keys). */
  config?: object;
  /** Flags for the target's node process, e.g. --cpu-prof. */
  nodeFlags?: readonly string[];
  /** How long SIGTERM may take before SIGKILL: a gateway answers and seals what it holds before it exits. */
  stopGraceMs?: number;
  /** A command the target runs under, e.g. valgrind and its flags (bench/cost.ts); the pid is still the target's. */
  wrapper?: readonly string[];
  /** Added to the target's environment. */
  env?: Record<string, string>;
  /** How long it may take to print its listening line (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Each line the target writes on stdout after its listening line. */
  onLine?: (line: string) => void;
}

const START_TIMEOUT_MS = 10_000;
/** Of a target's output, the tail kept to explain a failed start: a long run must not hold all its logs. */
const OUTPUT_KEPT_CHARS = 64 * 1024;
const live = new Set<ChildProcess>();

// Whatever ends the bench (an error, Ctrl-C), no gateway outlives it.
process.once('exit', () => live.forEach((c) => c.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    live.forEach((c) => c.kill('SIGKILL'));
    process.exit(130);
  });
}

/** The compiled script that runs `name`, relative to this file in dist/bench/. */
function scriptOf(name: TargetName): string {
  const rel = isGateway(name) ? '../src/cli.js' : `./peers/${name}.js`;
  return fileURLToPath(new URL(rel, import.meta.url));
}

/** Why `name` cannot be started here, or undefined if it can be tried. */
export function unavailable(name: TargetName): string | undefined {
  const script = scriptOf(name);
  return existsSync(script) ? undefined : `${script} does not exist (run npm run build)`;
}

export async function startTarget(name: TargetName, options: StartOptions = {}): Promise<RunningTarget> {
  const chainlanes = isGateway(name);
  const dataDir = chainlanes ? await mkdtemp(join(tmpdir(), 'chainlanes-bench-')) : undefined;
  // The config file lives in a folder of its own, not in the store.
  const configDir = chainlanes && options.config !== undefined ? await mkdtemp(join(tmpdir(), 'chainlanes-bench-config-')) : undefined;
  const args = [...(options.nodeFlags ?? []), scriptOf(name), ...(chainlanes ? ['serve'] : []), '--port', '0'];
  if (dataDir !== undefined) args.push('--data', dataDir);
  if (configDir !== undefined) {
    const file = join(configDir, 'config.json');
    await writeFile(file, JSON.stringify(options.config, null, 2));
    args.push('--config', file);
  }
  // Credits on: the bench provisions accounts, chains, policies and mints (credits-setup.ts).
  const adminKey = name === 'chainlanes' ? newKey() : undefined;
  const env = { ...process.env, ...options.env, CHAINLANES_ADMIN_KEY: adminKey ?? '' };
  const [command, ...commandArgs] = [...(options.wrapper ?? []), process.execPath, ...args];
  const server = spawnServer({ command: command!, args: commandArgs, env, maxOutputChars: OUTPUT_KEPT_CHARS });
  const child = server.child;
  live.add(child);
  if (options.verbose === true) echoOutput(child, name);
  const exit = async (): Promise<string> => {
    const how = await stopServer(server, options.stopGraceMs ?? 3000);
    live.delete(child);
    return how;
  };
  const stop = async (): Promise<void> => {
    await exit();
    for (const dir of [dataDir, configDir]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    const { scheme, host, port } = await untilListening(server, { name, timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS });
    const url = `${scheme === 'https' ? 'wss' : 'ws'}://${host}:${port}`;
    if (options.onLine !== undefined) forwardLines(child, options.onLine);
    return { name, url, pid: child.pid ?? 0, dataDir, exit, stop, ...(adminKey === undefined ? {} : { adminKey }) };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface StoreVerification {
  ok: boolean;
  /** Entries in the store, from the verifier's summary line; null if it printed none. */
  entries: number | null;
  /** What `chainlanes verify` printed, trimmed. */
  output: string;
}

/** Runs `chainlanes verify --data DIR` (the CLI, as an operator would) on a store no gateway holds. */
const VERIFY_TIMEOUT_MS = 300_000;

export function verifyStore(dataDir: string): StoreVerification {
  // A store of tens of millions of entries (a hostile run's flood) takes minutes to verify on a busy machine.
  const run = spawnSync(process.execPath, [scriptOf('chainlanes'), 'verify', '--data', dataDir], { encoding: 'utf8', timeout: VERIFY_TIMEOUT_MS });
  const unfinished = run.error === undefined ? '' : `chainlanes verify did not finish: ${run.error.message} (timeout ${VERIFY_TIMEOUT_MS / 1000} s)`;
  const output = `${run.stdout}${run.stderr}${unfinished}`.trim();
  const entries = /(\d+) entries/.exec(output);
  return { ok: run.status === 0 && /verify: OK/.test(output), entries: entries === null ? null : Number(entries[1]), output };
}

function forwardLines(child: ChildProcess, onLine: (line: string) => void): void {
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

function echoOutput(child: ChildProcess, name: string): void {
  const echo = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', echo);
  child.stderr?.on('data', echo);
}
