// HTTP routes of protocol v1 (JSON unless said): docs/protocol.md §6.
import { pack } from 'msgpackr';
import type { RingView } from '../ring/index.js';
import { Rejection, Repeat, StoredRepeat, Unclaimed, type Admission, type FrameOwner, type PendingFrame } from '../frontdoor/index.js';
import type { ChainRegistry, ChainState } from '../frontdoor/index.js';
import { CHAIN_NAME_RULE, HASH_BYTES, parseChainName, type ErrorCode } from '../protocol/index.js';
import { parseIndex, readBody, sendError, sendJson, sendText } from '../uws/index.js';
import { chainOr404 } from './chain-path.js';
import type { HttpRequest, HttpResponse } from '../uws/index.js';
import type { HttpRoutes } from '../defence/index.js';
import type { Logger } from '../log/index.js';
import type { ClientBuffers } from '../defence/index.js';
import { isRefusal, type CreditBook, type Principal, type Refusal } from '../credits/index.js';
import { presentedKey } from '../uws/index.js';
import { EVERY_CHAIN, inspectableOr403, listedOr401, type ChainFilter } from './listings.js';
import type { ProofHead } from './directory-routes.js';
import { FRAME_ID_HEADER, withHeaderId } from './frame-id-header.js';
import type { LedgerReadTask } from '../ledger/index.js';
import { answerLedgerRead, type LedgerReads } from './ledger-read.js';

/** Listings come in pages: `limit` items from `from`, the limit capped so no request builds more. */
interface PageRule {
  defaultLimit: number;
  maxLimit: number;
}
const CHAIN_PAGE: PageRule = { defaultLimit: 100, maxLimit: 1000 };
const ANCHOR_PAGE: PageRule = { defaultLimit: 100, maxLimit: 1000 };

/** The Prometheus exposition (a prom-client Registry). */
export interface MetricsText {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export const METRICS_PATH = '/metrics';
/**
 * At most one collection per this long. A scrape's time is not charged to
 * the asking address's share of the front door (defence/guard.ts: it comes
 * from monitoring, which must keep working under an attack), and anyone may
 * ask in open mode: so the front door collects at most 40 times a second,
 * however many ask. A collection took 2–3.5 ms of the front door's CPU in the
 * hostile bench (18 chains, sampled by perf; the first, still cold, 8–10 ms).
 */
const SCRAPE_SHARED_MS = 25;

/**
 * Every answer is collected after its scrape arrived, so a client that
 * writes and then scrapes sees its write counted (an earlier version handed
 * out the last text for 25 ms, and a test that wrote and scraped within that
 * saw counters from before). A scrape within SCRAPE_SHARED_MS of the last
 * collection waits for the next one, shared by all who asked meanwhile.
 */
export function sharedScrapes(metrics: MetricsText): MetricsText {
  let collectedAt = -Infinity;
  let next: Promise<string> | null = null;
  const collect = (): Promise<string> => {
    collectedAt = performance.now();
    return metrics.metrics();
  };
  return {
    contentType: metrics.contentType,
    metrics: () => {
      if (next !== null) return next;
      const wait = collectedAt + SCRAPE_SHARED_MS - performance.now();
      if (wait <= 0) return collect();
      next = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => {
        next = null;
        return collect();
      });
      return next;
    },
  };
}

export interface HttpContext {
  log: Logger;
  chains: ChainRegistry;
  admission: Admission;
  ledger: LedgerReads;
  maxBodyBytes: number;
  buffers: ClientBuffers;
  /** How long `?wait=committed` waits before answering `internal`. */
  commitWaitTimeoutMs: number;
  /** Why seals are failing right now, or null when they are not. */
  sealTrouble(): string | null;
  /** The highest directory whose `committed` notices went out: nothing above it is served (SealProgress.committedHeight). */
  committedDirectory(): number;
  chainInfo(chain: ChainState): Record<string, unknown>;
  /** The lanes as GET /v1/lanes shows them, listing only the chains `listed` lets through. */
  lanes(listed: ChainFilter): unknown;
  health(): Record<string, unknown>;
  metrics: MetricsText;
  /** The book of credits in authenticated mode (writes and reads are charged), null in open mode. */
  credits: CreditBook | null;
  /** Authenticated mode: listings answer anyone (auth.publicListings). */
  publicListings: boolean;
  /** What an entry proof's `?head=` asks for (directory-routes.ts). */
  proofHead(param: string | null): ProofHead;
}

/** An HTTP POST of entries: answered once hashed, or once committed with ?wait=committed. */
class HttpIngest implements FrameOwner {
  open = true;
  private readonly res: HttpResponse;
  private readonly chainName: string;
  private readonly ctx: HttpContext;
  private readonly waitCommitted: boolean;

  /** `chainName` may name a chain that its first accepted frame (this one) is about to create. */
  constructor(res: HttpResponse, chainName: string, ctx: HttpContext, waitCommitted: boolean) {
    this.res = res;
    this.chainName = chainName;
    this.ctx = ctx;
    this.waitCommitted = waitCommitted;
  }

  /** An HTTP request has one frame, answered in `hashed`: nothing is held. */
  sendHashed(): void {}

  hashed(frame: PendingFrame, ring: RingView): void {
    // Admission created the chain before it accepted the frame.
    const chain = this.ctx.chains.get(this.chainName);
    if (chain === undefined) throw new Error(`chain "${this.chainName}" vanished after accepting a frame`);
    this.answer(chain, frame.seq, frame.count, hexHashes(ring.u8, ring.hashesStart(frame.at), frame.count), {});
  }

  /** A msgpack body with a client frame id the window holds: the first one's answer, marked `repeat`. */
  repeated(repeat: Repeat): void {
    const chain = this.ctx.chains.get(this.chainName);
    if (chain === undefined) throw new Error(`chain "${this.chainName}" vanished after accepting a frame`);
    const hashes = hexHashes(repeat.hashes, 0, repeat.count);
    if (repeat.committed) return this.reply({ chain: chain.name, seq: repeat.seq, count: repeat.count, hashes, committed: true, repeat: true });
    this.answer(chain, repeat.seq, repeat.count, hashes, { repeat: true });
  }

  private answer(chain: ChainState, seq: number, count: number, hashes: string[], extra: { repeat?: true }): void {
    const body = { chain: chain.name, seq, count, hashes, committed: false, ...extra };
    if (!this.waitCommitted) return this.reply(body);
    const endSeq = seq + count;
    void chain.waitCommitted(endSeq, this.ctx.commitWaitTimeoutMs).then((committed) => {
      if (committed) return this.reply({ ...body, committed: true });
      this.replyTimedOut(chain, seq, endSeq);
    });
  }

  committed(): void {
    // HTTP callers learn of commits through ?wait=committed, not notices.
  }

  /** The entries stay accepted (their seqs are taken) and will still be sealed; only the wait ends. */
  private replyTimedOut(chain: ChainState, seq: number, endSeq: number): void {
    if (!this.open) return;
    this.open = false;
    const trouble = this.ctx.sealTrouble();
    const seconds = this.ctx.commitWaitTimeoutMs / 1000;
    sendError(
      this.res,
      'internal',
      `entries ${seq}…${endSeq - 1} of chain "${chain.name}" were accepted but are not committed after ${seconds} s ` +
        `(committed up to seq ${chain.committedSeq}); ${trouble ?? 'the sealer is behind'}. They will be sealed when the store allows; ` +
        `read GET /v1/chains/${chain.name}/entries/${endSeq - 1} later to check.`,
    );
  }

  private reply(body: unknown): void {
    if (this.open) sendJson(this.res, '200 OK', body);
    this.open = false;
  }
}

/** A non-negative integer path or query parameter, or null after answering `bad_request`. */
function indexOr400(res: HttpResponse, text: string | undefined, what: string): number | null {
  const value = parseIndex(text);
  if (value === null) sendError(res, 'bad_request', `${what} must be a non-negative integer, got ${JSON.stringify(text ?? '')}`);
  return value;
}

/** `?from=&limit=` of a listing, the limit capped by the rule, or null after answering `bad_request`. */
function pageOr400(res: HttpResponse, req: HttpRequest, rule: PageRule): { from: number; limit: number } | null {
  const query = new URLSearchParams(req.getQuery() ?? '');
  const from = indexOr400(res, query.get('from') ?? '0', 'from');
  if (from === null) return null;
  const limit = indexOr400(res, query.get('limit') ?? String(rule.defaultLimit), 'limit');
  if (limit === null) return null;
  return { from, limit: Math.min(limit, rule.maxLimit) };
}

const JSON_TYPES = ['application/json'];
const MSGPACK_TYPES = ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'];
const BODY_TYPES_RULE = 'content-type must be application/json (a JSON array of strings) or application/msgpack (a msgpack array of entries)';

/** The media type of a content-type header, without parameters such as charset. */
function mediaType(contentType: string): string {
  return contentType.split(';', 1)[0]!.trim().toLowerCase();
}

/** Turns a POST body into the msgpack frame the WebSocket path takes. */
function toFrame(body: Buffer, contentType: string): Buffer | Rejection {
  const type = mediaType(contentType);
  if (MSGPACK_TYPES.includes(type)) return body;
  if (!JSON_TYPES.includes(type)) return new Rejection('bad_request', `${BODY_TYPES_RULE}, got ${JSON.stringify(contentType)}`);
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
  let payer: Principal | null = null;
  if (ctx.credits !== null) {
    const principal = ctx.credits.authenticate(presentedKey(req, false));
    if (isRefusal(principal)) return sendRejection(ctx, res, principal.code, principal.message);
    payer = principal;
  }
  const rawName = req.getParameter(0);
  const contentType = req.getHeader('content-type');
  const frameIdHeader = req.getHeader(FRAME_ID_HEADER);
  const wait = new URLSearchParams(req.getQuery() ?? '').get('wait');
  // Refused before a byte of the body is read: a client announcing more than
  // the limit gets 413 at once instead of being read until it passes it.
  const declared = req.getHeader('content-length');
  if (declared !== '' && !(Number(declared) <= ctx.maxBodyBytes)) {
    return sendRejection(ctx, res, 'too_large', `content-length ${declared} is above the limit of ${ctx.maxBodyBytes} bytes (limits.maxFrameBytes)`);
  }
  let owner: HttpIngest | null = null;
  const body = await readBody(res, ctx.maxBodyBytes, ctx.buffers, () => {
    if (owner !== null) owner.open = false;
  });
  if (body === null) return;
  if (wait !== null && wait !== 'committed') return sendRejection(ctx, res, 'bad_request', `wait must be "committed" or absent, got ${JSON.stringify(wait)}`);
  const name = parseChainName(rawName ?? '');
  if (name === null) return sendRejection(ctx, res, 'bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`);
  const parsed = toFrame(body, contentType);
  if (parsed instanceof Rejection) return sendRejection(ctx, res, parsed.code, parsed.message);
  const frame = frameIdHeader === '' ? parsed : withHeaderId(parsed, frameIdHeader);
  if (typeof frame === 'string') return sendRejection(ctx, res, 'bad_request', frame);
  owner = new HttpIngest(res, name, ctx, wait === 'committed');
  let result = ctx.admission.admit(ctx.chains.get(name) ?? name, frame, owner, 0, payer);
  // A chain no gateway of the fleet owns yet: claimed for this one first (the body is ours to hold meanwhile).
  if (result instanceof Unclaimed) {
    const refusal = await ctx.admission.claim(name);
    if (!owner.open) return;
    result = refusal ?? ctx.admission.admit(ctx.chains.get(name) ?? name, frame, owner, 0, payer);
    if (refusal !== null) ctx.admission.reject(refusal.code, refusal.message);
  }
  if (result instanceof StoredRepeat) result = await result.answer;
  if (!owner.open) return;
  if (result instanceof Rejection) sendError(res, result.code, result.message, undefined, result.location);
  else if (result instanceof Repeat) owner.repeated(result);
}

function hexHashes(src: Uint8Array, start: number, count: number): string[] {
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + HASH_BYTES * i;
    hashes.push(Buffer.from(src.subarray(at, at + HASH_BYTES)).toString('hex'));
  }
  return hashes;
}

/** A chain another gateway of the fleet serves: answered 421 with its URL (503 naming it while it is down); true when answered. */
export function servedElsewhere(ctx: { admission: Admission }, res: HttpResponse, rawName: string | undefined): boolean {
  const name = parseChainName(rawName ?? '');
  const elsewhere = name === null ? null : ctx.admission.servedElsewhere(name);
  if (elsewhere === null) return false;
  sendError(res, elsewhere.code, elsewhere.message, undefined, elsewhere.location);
  return true;
}

/** A refused POST counts among the rejected frames, like a refused WebSocket frame. */
function sendRejection(ctx: HttpContext, res: HttpResponse, code: ErrorCode, message: string): void {
  const rejection = ctx.admission.reject(code, message);
  sendError(res, rejection.code, rejection.message);
}

/** Charges a read of `entries` entries, or says why it may not be served. */
type ReadCharge = (entries: number) => Refusal | null;

const FREE_READ: ReadCharge = () => null;

/**
 * In authenticated mode, who reads the chain named in the path and what they
 * pay per entry (null after answering why not): the key (401), the chain (404),
 * its readers (403), and a balance for at least one entry (402), before the read.
 */
function readerOr401(ctx: HttpContext, res: HttpResponse, req: HttpRequest): ReadCharge | null {
  const credits = ctx.credits;
  if (credits === null) return FREE_READ;
  const principal = credits.authenticate(presentedKey(req, false));
  if (isRefusal(principal)) return refused(res, principal);
  const name = parseChainName(req.getParameter(0) ?? '');
  if (name === null) return FREE_READ; // chainOr404 answers the bad name
  const chain = credits.readable(name, principal);
  if (isRefusal(chain)) return refused(res, chain);
  // A read its reader cannot pay one entry of is refused before the ledger is asked.
  const account = (principal as { account: string }).account;
  if (chain.balanceOf(account) < chain.policy.readPerEntry) {
    return refused(res, {
      code: 'credits',
      message: `${account} holds ${chain.balanceOf(account)} credits of chain "${name}"; reading an entry costs ${chain.policy.readPerEntry}`,
    });
  }
  return (entries) => credits.chargeRead(chain, principal, entries);
}

function refused(res: HttpResponse, refusal: { code: ErrorCode; message: string }): null {
  sendError(res, refusal.code, refusal.message);
  return null;
}

/** The entry count of a block's JSON (protocol.md §6.7): its `count` comes before any other field named so. */
function blockEntries(json: string): number {
  return Number(/"count":(\d+)/.exec(json)?.[1] ?? 0);
}

/** A block or directory above what `committed` reached: not there yet, or not yet on the standby (docs/replicas.md part 4). */
function notCommitted(what: string, highest: number): string {
  return `no ${what} committed yet (the highest committed is ${highest}); retry after it is committed`;
}

function getEntry(ctx: HttpContext, res: HttpResponse, req: HttpRequest): void {
  if (servedElsewhere(ctx, res, req.getParameter(0))) return;
  const charge = readerOr401(ctx, res, req);
  if (charge === null) return;
  const chain = chainOr404(ctx.chains, res, req.getParameter(0));
  if (chain === null) return;
  const seq = indexOr400(res, req.getParameter(1), 'seq');
  if (seq === null) return;
  if (seq >= chain.nextSeq) return sendError(res, 'not_found', `chain "${chain.name}" has no entry ${seq} (its next seq is ${chain.nextSeq})`);
  if (seq >= chain.committedSeq)
    return sendError(res, 'not_found', `entry ${seq} of chain "${chain.name}" is not committed yet; retry after its block is sealed`);
  const head = ctx.proofHead(new URLSearchParams(req.getQuery() ?? '').get('head'));
  if ('code' in head) return sendError(res, head.code, head.message);
  const task: LedgerReadTask = { kind: 'entry', chain: chain.name, seq, ...(head.size === undefined ? {} : { headSize: head.size }) };
  answerLedgerRead(ctx.ledger, res, task, `chain "${chain.name}" has no entry ${seq}`, (json) => charge(1) ?? json);
}

/**
 * With an admin key set, the metrics are the operator's: they name chains and
 * show their load. Prometheus sends the key as a Bearer token
 * (`authorization.credentials_file` in its scrape config).
 */
function metricsAllowed(ctx: HttpContext, res: HttpResponse, req: HttpRequest): boolean {
  if (ctx.credits === null) return true;
  const principal = ctx.credits.authenticate(presentedKey(req, false));
  if (isRefusal(principal)) return refused(res, principal) ?? false;
  if (principal.kind === 'admin') return true;
  return refused(res, { code: 'forbidden', message: '/metrics is read with the admin key' }) ?? false;
}

function getMetrics(ctx: HttpContext, res: HttpResponse, req: HttpRequest): void {
  if (!metricsAllowed(ctx, res, req)) return;
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

/** `app` is the connection guard's (guard.ts): every route runs behind its checks. */
export function addHttpRoutes(app: HttpRoutes, ctx: HttpContext): void {
  app.get('/healthz', (res) => {
    const health = ctx.health();
    sendJson(res, health.status === 'ok' ? '200 OK' : '503 Service Unavailable', health);
  });
  const scrapes = { ...ctx, metrics: sharedScrapes(ctx.metrics) };
  app.get(METRICS_PATH, (res, req) => getMetrics(scrapes, res, req));
  app.get('/v1/lanes', (res, req) => {
    const listed = listedOr401(ctx, res, req);
    if (listed !== null) sendJson(res, '200 OK', ctx.lanes(listed));
  });
  app.get('/v1/chains', (res, req) => {
    const listed = listedOr401(ctx, res, req);
    if (listed === null) return;
    // Paged, so no request builds more than a page on the front door's thread.
    const range = pageOr400(res, req, CHAIN_PAGE);
    if (range === null) return;
    const all = listed === EVERY_CHAIN ? ctx.chains.all() : ctx.chains.all().filter((c) => listed(c.name));
    const page = all.slice(range.from, range.from + range.limit);
    const next = range.from + page.length < all.length ? range.from + page.length : null;
    sendJson(res, '200 OK', { chains: page.map((c) => ctx.chainInfo(c)), total: all.length, next });
  });
  app.get('/v1/chains/:name', (res, req) => {
    if (servedElsewhere(ctx, res, req.getParameter(0))) return;
    const chain = chainOr404(ctx.chains, res, req.getParameter(0));
    if (chain !== null && inspectableOr403(ctx, res, req, chain.name)) sendJson(res, '200 OK', ctx.chainInfo(chain));
  });
  app.post('/v1/chains/:name/entries', (res, req) => {
    postEntries(ctx, res, req).catch((error: unknown) => {
      ctx.log.error({ event: 'internal-error', where: 'POST entries', err: error }, 'internal error in POST entries');
      try {
        sendError(res, 'internal', 'internal error while admitting the entries; see the gateway log');
      } catch {
        // The response was already answered or aborted.
      }
    });
  });
  app.get('/v1/chains/:name/entries/:seq', (res, req) => getEntry(ctx, res, req));
  app.get('/v1/chains/:name/blocks/:height', (res, req) => {
    if (servedElsewhere(ctx, res, req.getParameter(0))) return;
    const charge = readerOr401(ctx, res, req);
    if (charge === null) return;
    const chain = chainOr404(ctx.chains, res, req.getParameter(0));
    if (chain === null) return;
    const height = indexOr400(res, req.getParameter(1), 'height');
    if (height === null) return;
    if (height >= chain.nextHeight) return sendError(res, 'not_found', notCommitted(`block ${height} of chain "${chain.name}"`, chain.nextHeight - 1));
    answerLedgerRead(
      ctx.ledger,
      res,
      { kind: 'block', chain: chain.name, height },
      `chain "${chain.name}" has no block ${height}`,
      (json) => charge(blockEntries(json)) ?? json,
    );
  });
  app.get('/v1/directory/:height', (res, req) => {
    const height = indexOr400(res, req.getParameter(0), 'height');
    if (height === null) return;
    const committed = ctx.committedDirectory();
    if (height > committed) return sendError(res, 'not_found', notCommitted(`directory block ${height}`, committed));
    answerLedgerRead(ctx.ledger, res, { kind: 'directory', height }, `no directory block ${height}`);
  });
  app.get('/v1/anchors', (res, req) => {
    const range = pageOr400(res, req, ANCHOR_PAGE);
    if (range !== null) answerLedgerRead(ctx.ledger, res, { kind: 'anchors', ...range }, 'no anchors');
  });
  app.any('/*', (res, req) => {
    sendError(res, 'not_found', `no route ${req.getCaseSensitiveMethod()} ${req.getUrl()}; the routes are listed in docs/protocol.md`);
  });
}
