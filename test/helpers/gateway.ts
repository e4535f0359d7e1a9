// Starts a real gateway (the compiled CLI) as a child process on an ephemeral
// port, and talks to it with real WebSocket and HTTP clients. Every gateway and
// socket started here is released after the test by the cleanup registry.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { MetricsText } from '../../bench/metrics-text.js';
import { spawnServer, stopServer, untilListening } from '../../bench/server-process.js';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { pack, unpack } from 'msgpackr';
import { registerCleanup } from './cleanup.js';
import { tempDir } from './temp.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** How long a gateway may take to stop on SIGTERM at clean-up before it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;
const START_TIMEOUT_MS = 15_000;

export interface ChildGateway {
  port: number;
  dataDir: string;
  process: ChildProcess;
  output(): string;
  /** The gateway's log lines (JSON when its stdout is not a terminal), parsed. */
  logs(): LogLine[];
  http(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(path: string): Promise<T>;
  /** GET /metrics, parsed (strictly: a malformed exposition fails the test). */
  metrics(init?: RequestInit): Promise<MetricsText>;
  /** SIGTERM, and resolves with the exit code once the process and its output are closed. */
  stop(): Promise<number | null>;
  /** SIGKILL, and resolves once the process and its output are closed. */
  kill(): Promise<void>;
}

/**
 * Runs the CLI to its end (a command that is expected to refuse, or to
 * finish); `launcher`, a command that execs node in its own process (as
 * StartOptions.launcher).
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  launcher: readonly string[] = [],
): { status: number | null; signal: NodeJS.Signals | null; output: string; stderr: string } {
  const [command, ...launcherArgs] = [...launcher, process.execPath];
  const run = spawnSync(command!, [...launcherArgs, CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, signal: run.signal, output: run.stdout + run.stderr, stderr: run.stderr };
}

export type LogLine = Record<string, unknown> & { level: number; msg: string; event?: string };

/** Every line of `text` that is a JSON object, parsed; other lines (a child's stderr) are skipped. */
export function parseLogLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

export interface StartOptions {
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** A data directory the test owns (to share it between gateways); by default a temp dir of the gateway's own. */
  dataDir?: string;
  /**
   * A fixed port. Without it the gateway takes an ephemeral one, read from its
   * "listening on" log line; with it, readiness is a 200 from /healthz, so a
   * gateway that logs nothing at info level can be started too.
   */
  port?: number;
  /** A command that runs node, e.g. ['prlimit', '--nofile=256:256', '--'] (it must exec node in its own process). */
  launcher?: string[];
  /** Flags for node itself, before the script (V8's, which node refuses in NODE_OPTIONS). */
  nodeFlags?: readonly string[];
  /** The address the test reaches the gateway at (a lab host's); 127.0.0.1 by default. */
  clientHost?: string;
}

export async function startGateway(options: StartOptions = {}): Promise<ChildGateway> {
  const dataDir = options.dataDir ?? tempDir('chainlanes-test-');
  const args = [CLI, 'serve', '--port', String(options.port ?? 0), '--data', dataDir];
  // The config file sits in a folder of its own (not in the data directory, which a test may share).
  if (options.config !== undefined) {
    const file = join(tempDir('chainlanes-config-'), 'config.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.push('--config', file);
  }
  const [command, ...launcherArgs] = [...(options.launcher ?? []), process.execPath];
  const server = spawnServer({ command: command!, args: [...launcherArgs, ...(options.nodeFlags ?? []), ...args], env: { ...process.env, ...options.env } });
  const child = server.child;
  // Registered before waiting for it to listen, so a gateway that never starts is not left running.
  registerCleanup(`gateway pid ${child.pid ?? '?'}`, () => stopServer(server, STOP_GRACE_MS));
  const fixed = options.port;
  const host = options.clientHost ?? '127.0.0.1';
  const { port } = await untilListening(server, {
    name: 'gateway',
    timeoutMs: START_TIMEOUT_MS,
    ready: fixed === undefined ? undefined : () => untilHealthy(host, fixed, START_TIMEOUT_MS).then(() => ({ scheme: 'http' as const, host, port: fixed })),
  });
  const base = `http://${host}:${port}`;
  const http = (path: string, init?: RequestInit): Promise<Response> => fetch(base + path, init);
  return {
    port,
    dataDir,
    process: child,
    output: server.output,
    logs: () => parseLogLines(server.output()),
    http,
    json: async <T>(path: string) => (await (await http(path)).json()) as T,
    metrics: async (init?: RequestInit) => MetricsText.parse(await (await http('/metrics', init)).text()),
    stop: async () => {
      if (!server.exited()) child.kill('SIGTERM');
      return server.closed;
    },
    kill: async () => {
      if (!server.exited()) child.kill('SIGKILL');
      await server.closed;
    },
  };
}

function untilHealthy(host: string, port: number, timeoutMs: number): Promise<void> {
  const status = (): Promise<number> =>
    fetch(`http://${host}:${port}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
  return expect.poll(status, { timeout: timeoutMs, interval: 50 }).toBe(200);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type Reply = Record<string, unknown> & { type: string };

/** The entry hashes of an accepted reply, as hex, in entry order. */
export function replyHashes(reply: Reply): string[] {
  const bin = reply.hashes as Uint8Array;
  const out: string[] = [];
  for (let i = 0; i < bin.length; i += 32) out.push(Buffer.from(bin.subarray(i, i + 32)).toString('hex'));
  return out;
}

/** A protocol v1 client that records every reply in arrival order. */
export class StreamClient {
  readonly ws: WebSocket;
  readonly replies: Reply[] = [];
  readonly committed: Reply[] = [];
  private waiters: { wake: () => void }[] = [];
  closeCode: number | null = null;
  /** The reason the close frame gave, once closed. */
  closeReason = '';

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const reply = unpack(data) as Reply;
      if (reply.type === 'committed') this.committed.push(reply);
      else this.replies.push(reply);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
  }

  /**
   * `at` is a port on 127.0.0.1 or a gateway's http:// URL; `key`, if given,
   * goes in an `Authorization: Bearer` header (authenticated mode).
   */
  static async open(at: number | string, chain: string, key?: string): Promise<StreamClient> {
    const headers = key === undefined ? undefined : { authorization: `Bearer ${key}` };
    const base = typeof at === 'number' ? `ws://127.0.0.1:${at}` : at.replace(/^http/, 'ws');
    const ws = new WebSocket(`${base}/v1/chains/${chain}/stream`, { headers });
    registerCleanup(`WebSocket to ${chain}`, () => ws.terminate());
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
      const settle = (error: Error | null): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        if (error === null) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => settle(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const waiter = {
        wake: () => {
          if (done()) settle(null);
          else if (this.closeCode !== null) settle(new Error(`connection closed (${this.closeCode}) while waiting for ${what}`));
        },
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w.wake();
  }
}

/** Paces a loop that generates load; not for waiting on a condition (use expect.poll). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A gateway whose chains move to the heavy lane within a second of passing
 * 2,000 entries/s (and do not come back during a test), with short blocks.
 */
export const QUICK_TO_HEAVY = {
  scheduler: {
    tickMs: 50,
    tauMs: 200,
    demoteAfterMs: 60_000,
    laneTable: { lanes: [{ lane: 'heavy', minEntriesPerSec: 2_000 }], shareFloorEntriesPerSec: 1e12 },
  },
  ledger: { blockIntervalMs: 100 },
} as const;
