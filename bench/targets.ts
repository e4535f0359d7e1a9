// Starting and stopping the gateways under test. Each is a child process of
// its own (so its CPU time can be read from /proc), bound to 127.0.0.1 with an
// OS-chosen port that it announces on stdout, and always killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetName } from './options.js';
import { newKey } from '../src/credits/index.js';

export interface RunningTarget {
  name: TargetName;
  /** ws://127.0.0.1:PORT */
  url: string;
  pid: number;
  /** The admin key of a gateway started in authenticated mode (credits on). */
  adminKey?: string;
  stop(): Promise<void>;
}

/** Both run the chainlanes gateway: with credits (an admin key), and in open mode without. */
const isGateway = (name: TargetName): boolean => name === 'chainlanes' || name === 'chainlanes-open';

// The gateway logs JSON (the line goes on with `"`), the peers print plain text.
const LISTENING = /listening on (https?):\/\/([^\s/"]+)/;
const START_TIMEOUT_MS = 10_000;
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

export async function startTarget(name: TargetName, verbose = false): Promise<RunningTarget> {
  const dataDir = isGateway(name) ? await mkdtemp(join(tmpdir(), 'chainlanes-bench-')) : undefined;
  const args = [scriptOf(name), ...(isGateway(name) ? ['serve'] : []), '--port', '0'];
  if (dataDir !== undefined) args.push('--data', dataDir);
  // Credits on: the bench provisions accounts, chains, policies and mints (credits-setup.ts).
  const adminKey = name === 'chainlanes' ? newKey() : undefined;
  const env = { ...process.env, CHAINLANES_ADMIN_KEY: adminKey ?? '' };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  live.add(child);
  if (verbose) echoOutput(child, name);
  const cleanup = async (): Promise<void> => {
    await stopChild(child);
    live.delete(child);
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await listeningUrl(child, name);
    return { name, url, pid: child.pid ?? 0, stop: cleanup, ...(adminKey === undefined ? {} : { adminKey }) };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Resolves with ws://HOST:PORT from the child's "… listening on http://HOST:PORT" line. */
function listeningUrl(child: ChildProcess, name: string): Promise<string> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`${name} ${why}${stderr ? `; its stderr ends:\n${stderr.trimEnd()}` : ''}`));
    };
    const onExit = (code: number | null, signal: string | null): void => fail(`exited (${signal ?? code}) before listening`);
    const timer = setTimeout(() => fail(`did not print its listening line within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
    child.once('exit', onExit);
    const onData = (chunk: Buffer): void => {
      stdout = (stdout + chunk.toString('utf8')).slice(-4000);
      const m = LISTENING.exec(stdout);
      if (m === null) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // Keep reading (a full pipe would block the gateway), but stop parsing.
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      resolve(`${m[1] === 'https' ? 'wss' : 'ws'}://${m[2]}`);
    };
    child.stdout?.on('data', onData);
  });
}

function echoOutput(child: ChildProcess, name: string): void {
  const echo = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', echo);
  child.stderr?.on('data', echo);
}

/** SIGTERM, then SIGKILL if it has not exited within 3 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
