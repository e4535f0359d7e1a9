// Fleet members in processes of their own (test/fleet/fixtures/member.ts,
// built into dist/), optionally inside a lab host's network namespace, with
// their JSON reports collected as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { registerCleanup } from './cleanup.js';
import { CLI, ROOT } from './gateway.js';
import type { Lab } from './netns.js';

export const MEMBER_FIXTURE = join(ROOT, 'dist', 'test', 'fleet', 'fixtures', 'member.js');

export interface MemberReport {
  event: string;
  id: string;
  at: number;
  [field: string]: unknown;
}

export interface MemberProcess {
  process: ChildProcess;
  reports: MemberReport[];
  /** Resolves with the first report (from now or already received) that matches. */
  waitFor(match: (r: MemberReport) => boolean, timeoutMs?: number): Promise<MemberReport>;
  stderr(): string;
  /** A command line on the member's stdin (fixtures/member.ts lists them). */
  send(line: string): void;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface MemberProcessArgs {
  endpoints: string[];
  prefix: string;
  id: string;
  url: string;
  store?: string;
  ttlSeconds: number;
  marginMs: number;
  chain: string;
  claim: boolean;
}

export function startMemberProcess(args: MemberProcessArgs, where?: { lab: Lab; host: string }): MemberProcess {
  const argv = [process.execPath, MEMBER_FIXTURE, JSON.stringify({ store: `store-${args.id}`, ...args })];
  const command = where === undefined ? argv : where.lab.command(where.host, argv);
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const reports: MemberReport[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    let newline: number;
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      if (line.startsWith('{')) reports.push(JSON.parse(line) as MemberReport);
    }
  });
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-32 * 1024); });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await closed;
  };
  registerCleanup(`fleet member ${args.id} pid ${child.pid ?? '?'}`, () => kill());
  return {
    process: child,
    reports,
    stderr: () => stderr,
    send: (line) => { child.stdin!.write(line + '\n'); },
    kill,
    waitFor: async (match, timeoutMs = 20_000) => {
      let found: MemberReport | undefined;
      await expect.poll(() => {
        found = reports.find(match);
        if (found !== undefined) return true;
        return child.exitCode !== null ? `member ${args.id} exited: ${stderr}` : false;
      }, { timeout: timeoutMs, interval: 20 }).toBe(true);
      return found!;
    },
  };
}

/**
 * `chainlanes ARGS` without blocking this process (runCli's spawnSync would
 * stall servers the test runs itself, such as stand-in gateways the command calls).
 */
export function runCliAsync(args: string[], timeoutMs = 30_000): Promise<{ status: number | null; output: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('close', (status) => resolve({ status, output: stdout + stderr, stderr }));
  });
}
