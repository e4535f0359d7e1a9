// Real HAProxy for the fleet tests: Debian's haproxy (2.6) in the foreground
// (-db) with a configuration the test gives (usually `chainlanes fleet
// haproxy-config`'s), its runtime socket and map file in a temp dir of its
// own, its log on stdout (kept, so a test can read what HAProxy logged), and
// stopped by the cleanup registry.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { registerCleanup } from './cleanup.js';
import { tempDir } from './temp.js';

export const HAPROXY_BINARY = '/usr/sbin/haproxy';

export interface HaproxyPaths {
  dir: string;
  socket: string;
  map: string;
  config: string;
}

/** A temp dir with the paths HAProxy will use (the config is written by startHaproxy). */
export function haproxyPaths(): HaproxyPaths {
  const dir = tempDir('chainlanes-fleet-haproxy-');
  return { dir, socket: join(dir, 'admin.sock'), map: join(dir, 'chains.map'), config: join(dir, 'haproxy.cfg') };
}

export interface Haproxy {
  paths: HaproxyPaths;
  process: ChildProcess;
  /** Everything HAProxy wrote (its log lines among it). */
  output(): string;
  stop(): Promise<void>;
}

/** Checks `config` with `haproxy -c` (the message names the problem) and starts HAProxy on it. */
export async function startHaproxy(paths: HaproxyPaths, config: string): Promise<Haproxy> {
  writeFileSync(paths.config, config);
  if (!existsSync(paths.map)) writeFileSync(paths.map, '');
  try {
    execFileSync(HAPROXY_BINARY, ['-c', '-q', '-f', paths.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`haproxy -c refused the configuration:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}\n--- config ---\n${config}`);
  }
  const child = spawn(HAPROXY_BINARY, ['-db', '-f', paths.config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-1024 * 1024);
  });
  child.stderr!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-1024 * 1024);
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  };
  registerCleanup(`haproxy pid ${child.pid ?? '?'}`, stop);
  // Ready once the runtime socket exists and answers.
  await expect
    .poll(
      () => {
        if (child.exitCode !== null) return `exited: ${output}`;
        return existsSync(paths.socket);
      },
      { timeout: 10_000, interval: 25 },
    )
    .toBe(true);
  return { paths, process: child, output: () => output, stop };
}
