// HTTP routes of protocol v1 (JSON unless said).
import { pack } from 'msgpackr';
import type { RingView } from '../ring/index.js';
import { Rejection, type Admission, type FrameOwner, type PendingFrame } from './admission.js';
import type { ChainRegistry, ChainState } from './chains.js';
import { CHAIN_NAME_RULE, HASH_BYTES, parseChainName } from '../protocol/index.js';
import { parseIndex, readBody, sendError, sendJson, sendText } from './http-util.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';
import type { LedgerReadTask } from '../ledger/reader-types.js';

/** The ledger reads the front door serves, answered off its thread as JSON text (null: not there). */
export interface LedgerReads {
  read(task: LedgerReadTask): Promise<string | null>;
}

/** The Prometheus exposition (a prom-client Registry). */
export interface MetricsText {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface HttpContext {
  chains: ChainRegistry;
  admission: Admission;
  ledger: LedgerReads;
  maxBodyBytes: number;
  chainInfo(chain: ChainState): Record<string, unknown>;
  lanes(): unknown;
  health(): Record<string, unknown>;
  metrics: MetricsText;
}

/** An HTTP POST of entries: answered once hashed, or once committed with ?wait=committed. */
class HttpIngest implements FrameOwner {
  open = true;
  private readonly res: HttpResponse;
  private readonly chain: ChainState;
  private readonly waitCommitted: boolean;

  constructor(res: HttpResponse, chain: ChainState, waitCommitted: boolean) {
    this.res = res;
    this.chain = chain;
    this.waitCommitted = waitCommitted;
  }

  hashed(frame: PendingFrame, ring: RingView): void {
    const start = ring.hashesStart(frame.at);
    const hashes: string[] = [];
    for (let i = 0; i < frame.count; i++) {
      const at = start + HASH_BYTES * i;
      hashes.push(Buffer.from(ring.u8.subarray(at, at + HASH_BYTES)).toString('hex'));
    }
    const body = { chain: this.chain.name, seq: frame.seq, count: frame.count, hashes, committed: false };
    if (!this.waitCommitted) return this.reply(body);
    void this.chain.waitCommitted(frame.seq + frame.count).then(() => this.reply({ ...body, committed: true }));
  }

  committed(): void {
    // HTTP callers learn of commits through ?wait=committed, not notices.
  }

  private reply(body: unknown): void {
    if (this.open) sendJson(this.res, '200 OK', body);
    this.open = false;
  }
}

function chainOr404(ctx: HttpContext, res: HttpResponse, raw: string | undefined): ChainState | null {
  const name = parseChainName(raw ?? '');
  if (name === null) {
    sendError(res, 'unknown_chain', `bad chain name: ${CHAIN_NAME_RULE}`, '400 Bad Request');
    return null;
  }
  const chain = ctx.chains.get(name);
  if (chain === undefined) sendError(res, 'unknown_chain', `no chain "${name}"`);
  return chain ?? null;
}

/** Turns a JSON array of strings into the msgpack frame the WebSocket path takes. */
function toFrame(body: Buffer, contentType: string): Buffer | Rejection {
  const json = contentType.includes('json') || (contentType === '' && body[0] === 0x5b);
  if (!json) return body;
  let entries: unknown;
  try {
    entries = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return new Rejection('bad_frame', `body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
    return new Rejection('bad_frame', 'a JSON body must be an array of strings');
  }
  return pack(entries);
}

async function postEntries(ctx: HttpContext, res: HttpResponse, req: HttpRequest): Promise<void> {
  const rawName = req.getParameter(0);
  const contentType = req.getHeader('content-type').toLowerCase();
  const waitCommitted = new URLSearchParams(req.getQuery() ?? '').get('wait') === 'committed';
  let owner: HttpIngest | null = null;
  const body = await readBody(res, ctx.maxBodyBytes, () => { if (owner !== null) owner.open = false; });
  if (body === null) return;
  const name = parseChainName(rawName ?? '');
  if (name === null) return sendError(res, 'unknown_chain', `bad chain name: ${CHAIN_NAME_RULE}`, '400 Bad Request');
  const frame = toFrame(body, contentType);
  if (frame instanceof Rejection) return sendError(res, ctx.admission.reject(frame.code, frame.message).code, frame.message);
  const chain = ctx.chains.getOrCreate(name);
  if (chain === undefined) return sendError(res, 'unknown_chain', `no chain "${name}", and the gateway serves its limit of chains`);
  owner = new HttpIngest(res, chain, waitCommitted);
  const result = ctx.admission.admit(chain, frame, owner, 0);
  if (result instanceof Rejection) sendError(res, result.code, result.message);
}

function getEntry(ctx: HttpContext, res: HttpResponse, req: HttpRequest): void {
  const chain = chainOr404(ctx, res, req.getParameter(0));
  if (chain === null) return;
  const seq = parseIndex(req.getParameter(1));
  if (seq === null) return sendError(res, 'bad_frame', 'seq must be a non-negative integer', '400 Bad Request');
  if (seq >= chain.nextSeq) return sendError(res, 'unknown_chain', `chain "${chain.name}" has no entry ${seq} (next seq is ${chain.nextSeq})`);
  if (seq >= chain.committedSeq) return sendError(res, 'unknown_chain', `entry ${seq} of chain "${chain.name}" is not committed yet; retry after its block is sealed`);
  readOr404(ctx, res, { kind: 'entry', chain: chain.name, seq }, `chain "${chain.name}" has no entry ${seq}`);
}

function getMetrics(ctx: HttpContext, res: HttpResponse): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  ctx.metrics.metrics().then(
    (text) => {
      if (!aborted) sendText(res, ctx.metrics.contentType, text);
    },
    (error: unknown) => {
      if (!aborted) sendError(res, 'internal', `cannot collect the metrics: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
}

/** Answers from a ledger reader thread; the front door only forwards the JSON text. */
function readOr404(ctx: HttpContext, res: HttpResponse, task: LedgerReadTask, notFound: string): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  ctx.ledger.read(task).then(
    (json) => {
      if (aborted) return;
      if (json === null) return sendError(res, 'unknown_chain', notFound);
      sendText(res, 'application/json', json);
    },
    (error: unknown) => {
      // A proof the gateway cannot verify is never served (LedgerCorruptionError).
      if (!aborted) sendError(res, 'internal', error instanceof Error ? error.message : String(error));
    },
  );
}

export function addHttpRoutes(app: TemplatedApp, ctx: HttpContext): void {
  app.get('/healthz', (res) => {
    const health = ctx.health();
    sendJson(res, health.status === 'ok' ? '200 OK' : '503 Service Unavailable', health);
  });
  app.get('/metrics', (res) => getMetrics(ctx, res));
  app.get('/v1/lanes', (res) => sendJson(res, '200 OK', ctx.lanes()));
  app.get('/v1/chains', (res) => sendJson(res, '200 OK', { chains: ctx.chains.all().map((c) => ctx.chainInfo(c)) }));
  app.get('/v1/chains/:name', (res, req) => {
    const chain = chainOr404(ctx, res, req.getParameter(0));
    if (chain !== null) sendJson(res, '200 OK', ctx.chainInfo(chain));
  });
  app.post('/v1/chains/:name/entries', (res, req) => {
    postEntries(ctx, res, req).catch((error: unknown) => {
      console.error('chainlanes: internal error in POST entries:', error);
      try {
        sendError(res, 'internal', 'internal error while admitting the entries; see the gateway log');
      } catch {
        // The response was already answered or aborted.
      }
    });
  });
  app.get('/v1/chains/:name/entries/:seq', (res, req) => getEntry(ctx, res, req));
  app.get('/v1/chains/:name/blocks/:height', (res, req) => {
    const chain = chainOr404(ctx, res, req.getParameter(0));
    if (chain === null) return;
    const height = parseIndex(req.getParameter(1));
    if (height === null) return sendError(res, 'bad_frame', 'height must be a non-negative integer', '400 Bad Request');
    readOr404(ctx, res, { kind: 'block', chain: chain.name, height }, `chain "${chain.name}" has no block ${height}`);
  });
  app.get('/v1/directory/:height', (res, req) => {
    const height = parseIndex(req.getParameter(0));
    if (height === null) return sendError(res, 'bad_frame', 'height must be a non-negative integer', '400 Bad Request');
    readOr404(ctx, res, { kind: 'directory', height }, `no directory block ${height}`);
  });
  app.get('/v1/anchors', (res, req) => {
    const query = new URLSearchParams(req.getQuery() ?? '');
    const from = parseIndex(query.get('from') ?? '0') ?? 0;
    const limit = Math.min(parseIndex(query.get('limit') ?? '100') ?? 100, 1000);
    readOr404(ctx, res, { kind: 'anchors', from, limit }, 'no anchors');
  });
  app.any('/*', (res, req) => {
    sendError(res, 'bad_frame', `no route ${req.getCaseSensitiveMethod()} ${req.getUrl()}`, '404 Not Found');
  });
}
