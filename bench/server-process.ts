// Starting a server as a child process and knowing when it listens: the one
// way the tests (test/helpers/gateway.ts) and the bench (targets.ts) start a
// gateway or a peer. The server prints "… listening on http://HOST:PORT" (the
// gateway as a JSON log line, the peers as plain text); its port is read from
// there, so every server can take an ephemeral one (--port 0). Imports nothing
// from vitest: the compiled bench runs it without one.
import { spawn, type ChildProcess } from 'node:child_process';

/** The line a server prints once it listens; host may be a bracketed IPv6 address. */
const LISTENING_LINE = /listening on (https?):\/\/([^\s/"]+):(\d+)/;

export interface Listening {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

export interface ServerStart {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Keep only the last this many characters of its output (a long bench run); all of it by default (tests read its logs). */
  maxOutputChars?: number;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** What it wrote to stdout and stderr so far, interleaved as it arrived. */
  output(): string;
  /** Resolves with its exit code (null after a signal) once it exited and its output is closed. */
  readonly closed: Promise<number | null>;
  exited(): boolean;
  /** How it ended, e.g. "0" or "SIGKILL"; "running" while it runs. */
  howEnded(): string;
}

export function spawnServer(start: ServerStart): ServerProcess {
  const child = spawn(start.command, [...start.args], { env: start.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  // 'close', not 'exit': after 'exit' the last output may still be unread.
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const keep = start.maxOutputChars ?? Infinity;
  let output = '';
  // Always read, so a full pipe never blocks the server.
  const take = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > keep) output = output.slice(-keep);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => output,
    closed,
    exited,
    howEnded: () => (exited() ? (child.signalCode ?? String(child.exitCode)) : 'running'),
  };
}

export interface ReadyOptions {
  /** Named in errors: "gateway", "ws-gateway"… */
  name: string;
  timeoutMs: number;
  /**
   * Instead of the listening line, resolves once the server is ready: for a
   * fixed port and a server that logs nothing at its log level (a health check).
   */
  ready?: () => Promise<Listening>;
}

/** Resolves once `server` listens (or `ready` resolves); rejects if it exits first or takes longer than the timeout, with its output. */
export function untilListening(server: ServerProcess, options: ReadyOptions): Promise<Listening> {
  const { name, timeoutMs } = options;
  return new Promise<Listening>((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | null, listening?: Listening): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      server.child.stdout!.off('data', onData);
      if (error === null) resolve(listening!);
      else reject(error);
    };
    const withOutput = (why: string): Error => {
      const output = server.output().trimEnd();
      return new Error(`${name} ${why}${output === '' ? '' : `; its output:\n${output}`}`);
    };
    const timer = setTimeout(() => settle(withOutput(`did not listen within ${timeoutMs / 1000} s`)), timeoutMs);
    void server.closed.then(() => settle(withOutput(`exited with ${server.howEnded()} before listening`)));
    const onData = (): void => {
      const m = LISTENING_LINE.exec(server.output());
      if (m !== null) settle(null, { scheme: m[1] as Listening['scheme'], host: m[2]!, port: Number(m[3]) });
    };
    if (options.ready === undefined) {
      server.child.stdout!.on('data', onData);
      onData();
    } else {
      options.ready().then(
        (listening) => settle(null, listening),
        (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))),
      );
    }
  });
}

/** SIGTERM, then SIGKILL if it has not closed within `graceMs`; resolves with how it ended. */
export async function stopServer(server: ServerProcess, graceMs: number): Promise<string> {
  if (!server.exited()) server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
  try {
    await server.closed;
  } finally {
    clearTimeout(timer);
  }
  return server.howEnded();
}
