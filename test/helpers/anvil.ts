// A real local Ethereum node for the anchoring tests: anvil, from the npm
// package @foundry-rs/anvil (its platform package ships the binary), started
// on loopback and stopped by the cleanup registry.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import { registerCleanup } from './cleanup.js';

/** anvil's first development account (its well-known test mnemonic): funded on every fresh anvil. */
export const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
export const ANVIL_CHAIN_ID = 31337;

export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return createRequire(import.meta.url).resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil`);
}

export interface AnvilOptions {
  port: number;
  /** A file anvil loads at start and writes its chain to at exit (--state): the chain survives a restart. */
  stateFile?: string;
  /** false: transactions wait in the pool until a test mines. */
  automine?: boolean;
}

export interface Anvil {
  url: string;
  process: ChildProcess;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  mine(blocks?: number): Promise<void>;
  /** SIGTERM (anvil writes its --state file), resolved once it has exited. */
  stop(): Promise<void>;
}

export async function startAnvil(options: AnvilOptions): Promise<Anvil> {
  const args = ['--host', '127.0.0.1', '--port', String(options.port), '--chain-id', String(ANVIL_CHAIN_ID), '--silent'];
  if (options.stateFile !== undefined) args.push('--state', options.stateFile);
  if (options.automine === false) args.push('--no-mining');
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  registerCleanup(`anvil pid ${child.pid ?? '?'}`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  });
  const url = `http://127.0.0.1:${options.port}`;
  let id = 0;
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  };
  await expect
    .poll(
      () =>
        rpc('eth_chainId').then(
          () => true,
          () => (child.exitCode !== null ? `exited: ${output}` : false),
        ),
      { timeout: 15_000, interval: 50 },
    )
    .toBe(true);
  return {
    url,
    process: child,
    rpc,
    mine: async (blocks = 1) => {
      await rpc('anvil_mine', [`0x${blocks.toString(16)}`]);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}
