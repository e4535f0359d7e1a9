// HAProxy in front of the fleet: its runtime API (the admin socket), the map
// file that routes each chain to its owner's backend, and the configuration
// `chainlanes fleet haproxy-config` prints.
//
// Runtime changes live in HAProxy's memory only, so every change to the map
// is also written to the map file, which HAProxy loads when it (re)starts.
// `set map` on a missing key fails and `add map` on a present key makes a
// duplicate, so a change is set-else-add, and commands go one at a time; a
// whole new map is `prepare map` / `add map @version` / `commit map`, atomic.
import { createConnection } from 'node:net';
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { MemberRecord } from './keys.js';

export interface RuntimeOptions {
  socket: string;
  timeoutMs: number;
  /** The longest answer read (a `show map` of every chain). */
  maxAnswerBytes: number;
}

export const DEFAULT_RUNTIME_OPTIONS = { timeoutMs: 5_000, maxAnswerBytes: 64 * 1024 * 1024 } as const;

/** HAProxy reads a command and its payload into one buffer (tune.bufsize, 16 KiB by default): payloads are sent in pieces well under it. */
const PAYLOAD_BYTES = 8 * 1024;

export class HaproxyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HaproxyError';
  }
}

export class HaproxyRuntime {
  private readonly options: RuntimeOptions;
  private queue: Promise<unknown> = Promise.resolve();
  /** Commands sent, for tests and the bench. */
  commands = 0;

  constructor(options: RuntimeOptions) {
    this.options = options;
  }

  /** One command (and optional payload lines) on its own connection; HAProxy answers and closes. Commands never overlap. */
  command(line: string, payload?: readonly string[]): Promise<string> {
    if (/[\r\n]/.test(line)) throw new HaproxyError('a runtime command is one line');
    const run = (): Promise<string> => this.send(payload === undefined ? `${line}\n` : `${line} <<\n${payload.join('\n')}\n\n`);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private send(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.options.socket);
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(
        () => socket.destroy(new HaproxyError(`HAProxy's runtime socket ${this.options.socket}: no answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      socket.on('connect', () => socket.end(text));
      socket.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.options.maxAnswerBytes) return socket.destroy(new HaproxyError(`HAProxy's answer is larger than ${this.options.maxAnswerBytes} bytes`));
        chunks.push(chunk);
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error instanceof HaproxyError ? error : new HaproxyError(`HAProxy's runtime socket ${this.options.socket}: ${error.message}`));
      });
      socket.on('close', (hadError) => {
        clearTimeout(timer);
        if (!hadError) {
          this.commands++;
          resolve(Buffer.concat(chunks).toString('utf8').trim());
        }
      });
    });
  }

  /** A command that answers nothing when it worked. */
  private async quiet(line: string, payload?: readonly string[]): Promise<void> {
    const answer = await this.command(line, payload);
    if (answer !== '') throw new HaproxyError(`HAProxy refused "${line.split(' ').slice(0, 3).join(' ')}…": ${answer}`);
  }

  /** Routes `key` to `value`: set if present, else add. */
  async setMap(map: string, key: string, value: string): Promise<void> {
    const answer = await this.command(`set map ${map} ${key} ${value}`);
    if (answer === '') return;
    if (!/entry not found/i.test(answer)) throw new HaproxyError(`HAProxy refused set map ${key}: ${answer}`);
    await this.quiet(`add map ${map} ${key} ${value}`);
  }

  /** Removes `key` (absent already is fine). */
  async deleteMap(map: string, key: string): Promise<void> {
    const answer = await this.command(`del map ${map} ${key}`);
    if (answer !== '' && !/not found/i.test(answer)) throw new HaproxyError(`HAProxy refused del map ${key}: ${answer}`);
  }

  /** Replaces the whole map atomically with `entries`. */
  async replaceMap(map: string, entries: Iterable<readonly [string, string]>): Promise<void> {
    const answer = await this.command(`prepare map ${map}`);
    const version = /New version created:\s*(\d+)/.exec(answer)?.[1];
    if (version === undefined) throw new HaproxyError(`HAProxy refused prepare map: ${answer}`);
    let piece: string[] = [];
    let bytes = 0;
    for (const [key, value] of entries) {
      const line = `${key} ${value}`;
      if (bytes + line.length + 1 > PAYLOAD_BYTES && piece.length > 0) {
        await this.quiet(`add map @${version} ${map}`, piece);
        piece = [];
        bytes = 0;
      }
      piece.push(line);
      bytes += line.length + 1;
    }
    if (piece.length > 0) await this.quiet(`add map @${version} ${map}`, piece);
    await this.quiet(`commit map @${version} ${map}`);
  }

  /** The map's current entries, key → value. */
  async showMap(map: string): Promise<Map<string, string>> {
    const answer = await this.command(`show map ${map}`);
    const out = new Map<string, string>();
    for (const line of answer.split('\n')) {
      // "0x55d0c0a3f5a0 key value"
      const m = /^0x[0-9a-f]+ (\S+) (.*)$/.exec(line);
      if (m !== null) out.set(m[1]!, m[2]!);
      else if (line.trim() !== '') throw new HaproxyError(`HAProxy's show map answered a line that is not an entry: ${line.slice(0, 200)}`);
    }
    return out;
  }
}

/** Writes the map file whole: a temporary file made durable, then renamed over the old one (HAProxy never reads half a file). */
export function writeMapFile(path: string, entries: Iterable<readonly [string, string]>): void {
  const lines: string[] = [];
  for (const [key, value] of entries) lines.push(`${key} ${value}`);
  lines.sort();
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeSync(
      fd,
      `# chainlanes fleet: chain → owner gateway, mirrored from etcd; written whole by \`chainlanes fleet run\`\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}`,
    );
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export interface HaproxyConfigOptions {
  /** ADDR:PORT the proxy listens on. */
  bind: string;
  /** The runtime API's socket path. */
  socket: string;
  /** The map file's path. */
  map: string;
  members: ReadonlyMap<string, MemberRecord>;
  /** Where HAProxy logs (its `log` directive's target and options). */
  log: string;
  /** Health checks: every `checkIntervalMs`, down after `fall` failures, up after `rise` successes. */
  checkIntervalMs: number;
  fall: number;
  rise: number;
  /** A WebSocket stream may stay open this long without traffic (tunnel timeout). */
  tunnelTimeoutMs: number;
}

export const DEFAULT_HAPROXY_CONFIG = {
  log: 'stdout format raw local0',
  checkIntervalMs: 1_000,
  fall: 2,
  rise: 2,
  // The gateway pings every stream (uWS idleTimeout 120 s): a quiet stream sees traffic well within an hour.
  tunnelTimeoutMs: 3_600_000,
} as const;

/** The backend that serves the chains `gatewayId` owns. */
export function backendOf(gatewayId: string): string {
  return `be_${gatewayId}`;
}

const HTTP_LOG_WITHOUT_QUERY =
  // HAProxy's httplog format with the request line "%r" replaced by method, path and version:
  // a `?key=` sent by a client that did not use the header must not land in the proxy's log.
  '"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}HM %{+Q}HPO %{+Q}HV"';

function serverLine(id: string, record: MemberRecord, options: HaproxyConfigOptions): string {
  const url = new URL(record.url);
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  const tls = url.protocol === 'https:' ? ` ssl verify required ca-file /etc/ssl/certs/ca-certificates.crt sni str(${url.hostname})` : '';
  return `  server ${id} ${url.hostname}:${port} check inter ${options.checkIntervalMs} fall ${options.fall} rise ${options.rise}${tls}`;
}

/** A complete HAProxy configuration for the members given (sorted by id, so the same fleet gives the same text). */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const ids = [...options.members.keys()].sort();
  // HTTP/1.1 with Host: localhost — uWS answers no HTTP/1.0 request without a Host (the check would time out),
  // and every gateway answers to localhost whatever its allowedHosts.
  const check = ['  option httpchk', '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost', '  http-check expect status 200'];
  const lines = [
    '# Generated by `chainlanes fleet haproxy-config`: HAProxy in front of a chainlanes fleet.',
    `# Members: ${ids.length === 0 ? 'none yet' : ids.join(', ')}. A new member needs this file generated again and a reload.`,
    'global',
    `  log ${options.log}`,
    `  stats socket ${options.socket} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  log global',
    `  log-format ${HTTP_LOG_WITHOUT_QUERY}`,
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    // A WebSocket stream is a tunnel once upgraded: it lives by this timeout, not the client/server ones.
    `  timeout tunnel ${options.tunnelTimeoutMs}ms`,
    '',
    'frontend fe_chainlanes',
    `  bind ${options.bind}`,
    // /v1/chains/{name}/… → field 4 of the path split at "/" is the name (names need no URL-encoding).
    '  http-request set-var(txn.chain) path,field(4,/) if { path_beg /v1/chains/ }',
    `  http-request set-var(txn.owner) var(txn.chain),map(${options.map}) if { var(txn.chain) -m found }`,
    // A name in the map goes to its owner's backend; a backend that does not exist (a member this file predates) falls through.
    '  use_backend be_%[var(txn.owner)] if { var(txn.owner) -m found }',
    '  default_backend be_any',
    '',
    '# Chains not in the map (not claimed yet, or the map not yet told): consistent hashing of the name,',
    "# so a new chain's first requests all reach the same gateway; requests without a chain go round.",
    'backend be_any',
    '  balance hash var(txn.chain)',
    '  hash-type consistent',
    ...check,
    ...ids.map((id) => serverLine(id, options.members.get(id)!, options)),
  ];
  for (const id of ids) {
    const record = options.members.get(id)!;
    lines.push(
      '',
      `backend ${backendOf(id)}`,
      ...check,
      // While the owner is down its chains have nowhere else to go (no replicas): say so, naming it.
      `  http-error status 503 content-type application/json lf-string "{\\"error\\":{\\"code\\":\\"busy\\",\\"message\\":\\"chain %[var(txn.chain)] is served by gateway ${id}, which is down; retry later\\"}}"`,
      serverLine(id, record, options),
    );
  }
  return lines.join('\n') + '\n';
}
