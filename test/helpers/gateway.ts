// Starts a real gateway (the compiled CLI) as a child process on an ephemeral
// port, and talks to it with real WebSocket and HTTP clients.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import WebSocket from 'ws';
import { pack, unpack } from 'msgpackr';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

export interface ChildGateway {
  port: number;
  dataDir: string;
  process: ChildProcess;
  output(): string;
  /** The gateway's log lines (JSON when its stdout is not a terminal), parsed. */
  logs(): LogLine[];
  http(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(path: string): Promise<T>;
  /** SIGTERM, and resolves with the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  cleanup(): void;
}

/** Runs the CLI to its end (a command that is expected to refuse, or to finish). */
export function runCli(args: string[], env: Record<string, string> = {}): { status: number | null; signal: NodeJS.Signals | null; output: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, signal: run.signal, output: run.stdout + run.stderr, stderr: run.stderr };
}

export type LogLine = Record<string, unknown> & { level: number; msg: string; event?: string };

/** Every line of `text` that is a JSON object, parsed; other lines (a child's stderr) are skipped. */
export function parseLogLines(text: string): LogLine[] {
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
}

export interface StartOptions {
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  dataDir?: string;
}

export async function startGateway(options: StartOptions = {}): Promise<ChildGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'chainlanes-test-'));
  const args = [CLI, 'serve', '--port', '0', '--data', dataDir];
  // The config file sits in a folder of its own (not in the data directory, which a test may share).
  const configDir = mkdtempSync(join(tmpdir(), 'chainlanes-config-'));
  if (options.config !== undefined) {
    const file = join(configDir, 'config.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.push('--config', file);
  }
  const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 15_000);
    const check = (): void => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${output}`));
    });
  }).catch((error: unknown) => {
    // A refused start (tests expect some) leaves no config folder behind.
    rmSync(configDir, { recursive: true, force: true });
    throw error;
  });
  const base = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  return {
    port,
    dataDir,
    process: child,
    output: () => output,
    logs: () => parseLogLines(output),
    http: (path, init) => fetch(base + path, init),
    json: async <T>(path: string) => (await (await fetch(base + path)).json()) as T,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    cleanup: () => {
      rmSync(configDir, { recursive: true, force: true });
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Reply = Record<string, unknown> & { type: string };

/** A protocol v1 client that records every reply in arrival order. */
export class StreamClient {
  readonly ws: WebSocket;
  readonly replies: Reply[] = [];
  readonly committed: Reply[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  closeCode: number | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const reply = unpack(data) as Reply;
      if (reply.type === 'committed') this.committed.push(reply);
      else this.replies.push(reply);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  static async open(port: number, chain: string): Promise<StreamClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/chains/${chain}/stream`);
    const client = new StreamClient(ws);
    await once(ws, 'open');
    return client;
  }

  send(entries: (string | Uint8Array)[]): void {
    this.ws.send(pack(entries.map((e) => (typeof e === 'string' ? e : Buffer.from(e)))));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Resolves once `n` accepted/error replies have arrived. */
  async waitReplies(n: number, timeoutMs = 20_000): Promise<Reply[]> {
    await this.waitFor(() => this.replies.length >= n, timeoutMs, `${n} replies (have ${this.replies.length})`);
    return this.replies;
  }

  async waitCommitted(predicate: (c: Reply[]) => boolean, timeoutMs = 20_000): Promise<Reply[]> {
    await this.waitFor(() => predicate(this.committed), timeoutMs, 'committed notices');
    return this.committed;
  }

  async waitClosed(timeoutMs = 10_000): Promise<number> {
    await this.waitFor(() => this.closeCode !== null, timeoutMs, 'close');
    return this.closeCode!;
  }

  close(): void {
    this.ws.close();
  }

  private waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const waiter = {
        n: 0,
        resolve: () => {
          if (!done() && this.closeCode === null) return;
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          if (done()) resolve();
          else reject(new Error(`connection closed (${this.closeCode}) while waiting for ${what}`));
        },
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w.resolve();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
