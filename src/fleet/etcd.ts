// The fleet's etcd client: etcd's v3 JSON gateway (grpc-gateway, /v3/…) over
// node:http, not npm `etcd3` over gRPC. Why (docs/fleet.md "etcd client"):
// - every call is one bounded HTTP request with our own timeout and size cap,
//   so a partition shows up as a failed call at a time we chose; etcd3 retries
//   inside its own policies and reports a lost lease only ~2×TTL late;
// - keep-alives are single POSTs whose send time we know: fencing by the
//   gateway's own clock needs exactly that time;
// - no dependency (gRPC, protobufjs) in a gateway that otherwise has none.
// The gateway encodes keys and values in base64, int64s as strings, and omits
// fields that are false or zero; all of that is undone here, once.
//
// Retries: a call whose request could not have reached etcd (connection
// refused or reset before sending) is tried on the next endpoint; a timeout is
// not retried, because a transaction may have been applied: its outcome is
// unknown, and callers re-read (every write the fleet makes is conditional).
import http from 'node:http';
import https from 'node:https';

/** Revisions are int64 in etcd; in practice far below 2^53, and refused above it rather than rounded. */
export type Revision = number;
/** Lease ids are int64 and often above 2^53: kept as the decimal string etcd sends. */
export type LeaseId = string;

export interface EtcdOptions {
  /** Client URLs (http://host:port), tried in turn. */
  endpoints: readonly string[];
  /** Each unary call's bound. */
  requestTimeoutMs: number;
  /** The largest response body (or watch message) accepted; a larger one is an error, not a crash. */
  maxResponseBytes: number;
}

export const DEFAULT_ETCD_OPTIONS = { requestTimeoutMs: 5_000, maxResponseBytes: 32 * 1024 * 1024 } as const;

export interface KeyValue {
  key: string;
  value: Buffer;
  createRevision: Revision;
  modRevision: Revision;
  version: number;
  /** '0' when the key has no lease. */
  lease: LeaseId;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  more: boolean;
  /** The store's revision when the range was served. */
  revision: Revision;
}

export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';

export interface Compare {
  key: string;
  target: CompareTarget;
  result: CompareResult;
  /** The number (VERSION, CREATE, MOD), the lease id (LEASE) or the bytes (VALUE). */
  operand: number | string | Buffer;
}

export type RequestOp =
  | { put: { key: string; value: Buffer | string; lease?: LeaseId } }
  | { range: { key: string; prefix?: boolean } }
  | { delete: { key: string; prefix?: boolean } }
  | { txn: Txn };

export interface Txn {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export type ResponseOp =
  { kind: 'put'; revision: Revision } | { kind: 'range'; range: RangeResult } | { kind: 'delete'; deleted: number } | { kind: 'txn'; txn: TxnResult };

export interface TxnResult {
  succeeded: boolean;
  revision: Revision;
  responses: ResponseOp[];
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

/** A failure talking to etcd: `unavailable` (no endpoint answered, or in time) or an error etcd returned. */
export class EtcdError extends Error {
  constructor(
    message: string,
    readonly kind: 'unavailable' | 'refused' | 'too-large' | 'malformed',
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** Compare builders: `cmp.version(k, '=', 0)` is "k does not exist". */
const RESULT: Record<'=' | '!=' | '<' | '>', CompareResult> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' };
export const cmp = {
  version: (key: string, op: keyof typeof RESULT, n: number): Compare => ({ key, target: 'VERSION', result: RESULT[op], operand: n }),
  mod: (key: string, op: keyof typeof RESULT, rev: Revision): Compare => ({ key, target: 'MOD', result: RESULT[op], operand: rev }),
  create: (key: string, op: keyof typeof RESULT, rev: Revision): Compare => ({ key, target: 'CREATE', result: RESULT[op], operand: rev }),
  lease: (key: string, op: keyof typeof RESULT, lease: LeaseId): Compare => ({ key, target: 'LEASE', result: RESULT[op], operand: lease }),
  value: (key: string, op: keyof typeof RESULT, value: Buffer | string): Compare => ({ key, target: 'VALUE', result: RESULT[op], operand: Buffer.from(value) }),
};

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

/** The end of the range holding every key that starts with `prefix` (etcd's `WithPrefix`). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]!++;
      return end.toString('latin1');
    }
  }
  return '\0';
}

/** prefixEnd as base64 of its bytes (latin1 keeps each byte as one char). */
function rangeEndB64(prefix: string): string {
  return Buffer.from(prefixEnd(prefix), 'latin1').toString('base64');
}

function revisionOf(value: unknown, what: string): Revision {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new EtcdError(`etcd sent ${what} ${JSON.stringify(value)}, not a revision below 2^53`, 'malformed');
  return n;
}

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

function keyValueOf(raw: RawKv): KeyValue {
  return {
    key: Buffer.from(raw.key ?? '', 'base64').toString('utf8'),
    value: Buffer.from(raw.value ?? '', 'base64'),
    createRevision: revisionOf(raw.create_revision, 'create_revision'),
    modRevision: revisionOf(raw.mod_revision, 'mod_revision'),
    version: revisionOf(raw.version, 'version'),
    lease: raw.lease ?? '0',
  };
}

interface RawRange {
  header?: { revision?: string };
  kvs?: RawKv[];
  count?: string;
  more?: boolean;
}

function rangeOf(raw: RawRange, revision?: Revision): RangeResult {
  return {
    kvs: (raw.kvs ?? []).map(keyValueOf),
    count: revisionOf(raw.count, 'count'),
    more: raw.more === true,
    revision: revision ?? revisionOf(raw.header?.revision, 'revision'),
  };
}

function compareJson(c: Compare): Record<string, unknown> {
  const out: Record<string, unknown> = { key: b64(c.key), target: c.target, result: c.result };
  if (c.target === 'VERSION') out.version = String(c.operand);
  else if (c.target === 'CREATE') out.create_revision = String(c.operand);
  else if (c.target === 'MOD') out.mod_revision = String(c.operand);
  else if (c.target === 'LEASE') out.lease = String(c.operand);
  else out.value = Buffer.from(c.operand as Buffer).toString('base64');
  return out;
}

function opJson(op: RequestOp): Record<string, unknown> {
  if ('put' in op) {
    const put: Record<string, unknown> = { key: b64(op.put.key), value: b64(op.put.value) };
    if (op.put.lease !== undefined && op.put.lease !== '0') put.lease = op.put.lease;
    return { request_put: put };
  }
  if ('range' in op) return { request_range: { key: b64(op.range.key), ...(op.range.prefix === true ? { range_end: rangeEndB64(op.range.key) } : {}) } };
  if ('delete' in op)
    return { request_delete_range: { key: b64(op.delete.key), ...(op.delete.prefix === true ? { range_end: rangeEndB64(op.delete.key) } : {}) } };
  return { request_txn: txnJson(op.txn) };
}

function txnJson(txn: Txn): Record<string, unknown> {
  return { compare: txn.compare.map(compareJson), success: txn.success.map(opJson), failure: txn.failure.map(opJson) };
}

interface RawTxn {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: Record<string, unknown>[];
}

function txnOf(raw: RawTxn, revision: Revision): TxnResult {
  return {
    succeeded: raw.succeeded === true,
    revision,
    responses: (raw.responses ?? []).map((r): ResponseOp => {
      if ('response_put' in r) return { kind: 'put', revision };
      if ('response_range' in r) return { kind: 'range', range: rangeOf(r.response_range as RawRange, revision) };
      if ('response_delete_range' in r) return { kind: 'delete', deleted: revisionOf((r.response_delete_range as { deleted?: string }).deleted, 'deleted') };
      if ('response_txn' in r) return { kind: 'txn', txn: txnOf(r.response_txn as RawTxn, revision) };
      throw new EtcdError(`etcd sent a transaction response of an unknown kind: ${Object.keys(r).join(',')}`, 'malformed');
    }),
  };
}

/** Errors that mean the request never reached a server: safe to try the next endpoint. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export interface WatchOptions {
  prefix?: boolean;
  /** First revision to report (0: from now). */
  startRevision?: Revision;
}

export interface WatchHandlers {
  /** etcd accepted the watch; history from `startRevision` follows. */
  created?(): void;
  events(events: WatchEvent[], revision: Revision): void;
  /** etcd no longer holds `startRevision`: the watcher must list again. */
  compacted(compactRevision: Revision): void;
  /** The stream ended or failed; nothing more will be reported. */
  ended(error: Error): void;
}

export interface WatchHandle {
  cancel(): void;
}

export class EtcdClient {
  private readonly endpoints: URL[];
  private readonly options: EtcdOptions;
  private current = 0;
  /** Requests sent (unary calls and watches): what the bench counts to show the per-frame path makes none. */
  requests = 0;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private closed = false;

  constructor(options: EtcdOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd: no endpoints');
    this.endpoints = options.endpoints.map((e) => new URL(e));
    for (const url of this.endpoints) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`etcd endpoint ${url.href}: not http:// or https://`);
    }
    this.options = options;
    // Watches hold a socket each for as long as they run; the bound is for the unary calls beside them.
    this.agents = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };
  }

  get endpointList(): string[] {
    return this.endpoints.map((u) => u.origin);
  }

  close(): void {
    this.closed = true;
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  // ---- unary calls

  async range(
    key: string,
    options: { prefix?: boolean; limit?: number; revision?: Revision; keysOnly?: boolean; countOnly?: boolean; fromKey?: string; sortByModDesc?: boolean } = {},
  ): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: b64(options.fromKey ?? key) };
    if (options.prefix === true) body.range_end = rangeEndB64(key);
    if (options.limit !== undefined) body.limit = String(options.limit);
    if (options.revision !== undefined) body.revision = String(options.revision);
    if (options.keysOnly === true) body.keys_only = true;
    if (options.countOnly === true) body.count_only = true;
    if (options.sortByModDesc === true) Object.assign(body, { sort_target: 'MOD', sort_order: 'DESCEND' });
    return rangeOf(await this.call<RawRange>('/v3/kv/range', body));
  }

  /** Every key under `prefix` at one revision, read in pages of `pageSize` (a large prefix is never one huge response). */
  async rangeAll(prefix: string, pageSize = 1000, maxKeys = Number.POSITIVE_INFINITY): Promise<{ kvs: KeyValue[]; revision: Revision }> {
    const kvs: KeyValue[] = [];
    let revision: Revision | undefined;
    let fromKey: string | undefined;
    for (;;) {
      const page = await this.range(prefix, { prefix: true, limit: pageSize, revision, fromKey });
      revision ??= page.revision;
      kvs.push(...page.kvs);
      if (kvs.length > maxKeys) throw new EtcdError(`etcd holds more than ${maxKeys} keys under ${prefix}`, 'too-large');
      if (!page.more || page.kvs.length === 0) return { kvs, revision };
      fromKey = page.kvs.at(-1)!.key + '\0';
    }
  }

  async put(key: string, value: Buffer | string, lease?: LeaseId): Promise<Revision> {
    const body: Record<string, unknown> = { key: b64(key), value: b64(value) };
    if (lease !== undefined && lease !== '0') body.lease = lease;
    const raw = await this.call<{ header?: { revision?: string } }>('/v3/kv/put', body);
    return revisionOf(raw.header?.revision, 'revision');
  }

  /** Deletes `key`, every key under it (`prefix`), or the keys in [key, end). */
  async delete(key: string, options: { prefix?: boolean; end?: string } = {}): Promise<{ deleted: number; revision: Revision }> {
    const body: Record<string, unknown> = { key: b64(key) };
    if (options.prefix === true) body.range_end = rangeEndB64(key);
    else if (options.end !== undefined) body.range_end = b64(options.end);
    const raw = await this.call<{ header?: { revision?: string }; deleted?: string }>('/v3/kv/deleterange', body);
    return { deleted: revisionOf(raw.deleted, 'deleted'), revision: revisionOf(raw.header?.revision, 'revision') };
  }

  async txn(txn: Txn): Promise<TxnResult> {
    const raw = await this.call<RawTxn>('/v3/kv/txn', txnJson(txn));
    return txnOf(raw, revisionOf(raw.header?.revision, 'revision'));
  }

  async grantLease(ttlSeconds: number): Promise<{ id: LeaseId; ttlSeconds: number }> {
    const raw = await this.call<{ ID?: string; TTL?: string; error?: string }>('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (raw.ID === undefined || raw.error) throw new EtcdError(`etcd granted no lease: ${raw.error ?? 'no id'}`, 'refused');
    return { id: raw.ID, ttlSeconds: revisionOf(raw.TTL, 'TTL') };
  }

  /** One keep-alive: the lease's TTL in seconds as etcd set it, 0 when the lease no longer exists. */
  async keepAlive(id: LeaseId, timeoutMs = this.options.requestTimeoutMs): Promise<number> {
    const raw = await this.call<{ result?: { TTL?: string }; error?: { message?: string } }>('/v3/lease/keepalive', { ID: id }, timeoutMs);
    if (raw.error !== undefined) throw new EtcdError(`lease keep-alive refused: ${raw.error.message ?? 'unknown'}`, 'refused');
    return revisionOf(raw.result?.TTL, 'TTL');
  }

  async revokeLease(id: LeaseId): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (error) {
      // A lease that expired already is revoked.
      if (!(error instanceof EtcdError && error.kind === 'refused' && /not found/i.test(error.message))) throw error;
    }
  }

  async leaseTimeToLive(id: LeaseId): Promise<number> {
    const raw = await this.call<{ TTL?: string }>('/v3/lease/timetolive', { ID: id });
    return Number(raw.TTL ?? 0);
  }

  /** One POST; tried on the next endpoint only when it cannot have been delivered. */
  private async call<T>(path: string, body: unknown, timeoutMs = this.options.requestTimeoutMs): Promise<T> {
    if (this.closed) throw new EtcdError('etcd client closed', 'unavailable');
    const payload = JSON.stringify(body);
    const deadline = performance.now() + timeoutMs;
    let lastError: unknown;
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const index = (this.current + tried) % this.endpoints.length;
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        const text = await this.post(this.endpoints[index]!, path, payload, left);
        this.current = index;
        return JSON.parse(text) as T;
      } catch (error) {
        lastError = error;
        if (!(error instanceof NotSent)) throw error;
      }
    }
    throw new EtcdError(`etcd unavailable (${this.endpointList.join(', ')}): ${lastError instanceof Error ? lastError.message : 'timed out'}`, 'unavailable');
  }

  private post(endpoint: URL, path: string, payload: string, timeoutMs: number): Promise<string> {
    this.requests++;
    return new Promise((resolve, reject) => {
      const url = new URL(path, endpoint);
      const module = url.protocol === 'https:' ? https : http;
      let sent = false;
      const req = module.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? this.agents.https : this.agents.http,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.options.maxResponseBytes) {
              req.destroy(new EtcdError(`etcd's answer to ${path} is larger than ${this.options.maxResponseBytes} bytes`, 'too-large'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) return resolve(text);
            reject(
              new EtcdError(
                `etcd ${path}: HTTP ${res.statusCode}: ${errorText(text)}`,
                (res.statusCode ?? 500) >= 500 && /no leader|leader changed|timed out|unavailable/i.test(text) ? 'unavailable' : 'refused',
                res.statusCode,
              ),
            );
          });
          res.on('error', (error) => reject(error));
        },
      );
      const timer = setTimeout(
        () => req.destroy(new EtcdError(`etcd ${url.origin}${path}: no answer within ${Math.round(timeoutMs)} ms`, 'unavailable')),
        timeoutMs,
      );
      // A pooled socket is connected already; one that fails with a reset before answering was most
      // likely closed by etcd while idle. Retrying then is safe: every write the fleet makes is conditional.
      req.on('socket', (socket) => {
        if (socket.connecting)
          socket.once('connect', () => {
            sent = true;
          });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A pooled keep-alive socket that etcd closed fails with ECONNRESET before anything was read.
        if (!sent && (NOT_SENT.has(error.code ?? '') || error.code === 'ECONNRESET')) reject(new NotSent(`${url.origin}: ${error.code}`));
        else reject(error instanceof EtcdError ? error : new EtcdError(`etcd ${url.origin}${path}: ${error.message}`, 'unavailable'));
      });
      req.end(payload);
    });
  }

  // ---- watch

  /**
   * A watch over the JSON gateway's streaming response: one JSON message per
   * line. The handle cancels it; `ended` is called once when it stops for any
   * other reason (the caller reconnects from the last revision it saw).
   */
  watch(key: string, options: WatchOptions, handlers: WatchHandlers): WatchHandle {
    const create: Record<string, unknown> = { key: b64(key) };
    if (options.prefix === true) create.range_end = rangeEndB64(key);
    if (options.startRevision !== undefined && options.startRevision > 0) create.start_revision = String(options.startRevision);
    create.progress_notify = true;
    const payload = JSON.stringify({ create_request: create });
    this.requests++;
    const endpoint = this.endpoints[this.current]!;
    const url = new URL('/v3/watch', endpoint);
    const module = url.protocol === 'https:' ? https : http;
    let done = false;
    const end = (error: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(connectTimer);
      req.destroy();
      // The next watch tries the next endpoint: this one may be the partitioned member.
      if (!(error instanceof WatchCancelled)) this.current = (this.current + 1) % this.endpoints.length;
      if (!(error instanceof WatchCancelled)) handlers.ended(error);
    };
    // No response headers within the call timeout: the endpoint is not answering.
    const connectTimer = setTimeout(
      () => end(new EtcdError(`etcd watch on ${url.origin}: no answer within ${this.options.requestTimeoutMs} ms`, 'unavailable')),
      this.options.requestTimeoutMs,
    );
    const req = module.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        clearTimeout(connectTimer);
        if (res.statusCode !== 200) {
          end(new EtcdError(`etcd watch: HTTP ${res.statusCode}`, 'refused', res.statusCode));
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          if (buffered.length > this.options.maxResponseBytes)
            return end(new EtcdError(`etcd watch message larger than ${this.options.maxResponseBytes} bytes`, 'too-large'));
          let newline: number;
          while (!done && (newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line.length > 0) this.watchMessage(line, handlers, end);
          }
        });
        res.on('end', () => end(new EtcdError('etcd closed the watch', 'unavailable')));
        res.on('error', (error) => end(error));
      },
    );
    req.on('error', (error) => end(error instanceof EtcdError ? error : new EtcdError(`etcd watch on ${url.origin}: ${error.message}`, 'unavailable')));
    req.end(payload);
    return { cancel: () => end(new WatchCancelled()) };
  }

  private watchMessage(line: string, handlers: WatchHandlers, end: (error: Error) => void): void {
    let message: { result?: RawWatch; error?: { message?: string } };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      return end(new EtcdError('etcd sent a watch message that is not JSON', 'malformed'));
    }
    if (message.error !== undefined) return end(new EtcdError(`etcd watch: ${message.error.message ?? 'error'}`, 'refused'));
    const result = message.result;
    if (result === undefined) return;
    const compact = revisionOf(result.compact_revision, 'compact_revision');
    if (compact > 0) {
      handlers.compacted(compact);
      return end(new WatchCancelled());
    }
    if (result.canceled === true) return end(new EtcdError(`etcd cancelled the watch: ${result.cancel_reason ?? 'no reason given'}`, 'refused'));
    // The creation message's revision is the store's now, not what was sent so far: history follows it.
    if (result.created === true && (result.events ?? []).length === 0) {
      handlers.created?.();
      return;
    }
    const revision = revisionOf(result.header?.revision, 'revision');
    const events = (result.events ?? []).map((e): WatchEvent => ({ type: e.type === 'DELETE' ? 'delete' : 'put', kv: keyValueOf(e.kv ?? {}) }));
    try {
      handlers.events(events, revision);
    } catch (error) {
      end(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

interface RawWatch {
  header?: { revision?: string };
  created?: boolean;
  canceled?: boolean;
  cancel_reason?: string;
  compact_revision?: string;
  events?: { type?: string; kv?: RawKv }[];
}

class NotSent extends Error {}
class WatchCancelled extends Error {}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return body.message ?? body.error ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
