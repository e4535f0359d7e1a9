// The directory log's routes (docs/protocol.md §13): the gateway's key, its
// signed heads, consistency and inclusion proofs, and witnesses'
// co-signatures. The latest head comes with each seal from the sealer and is
// answered from memory; everything read from the store goes to the ledger
// reader threads. Sizes are kept within the latest head the sealer reported,
// which is durable: nothing not yet on disk is ever proved or signed for a client.
import type { SealerEvent, SignedHeadEvent } from '../sealer/index.js';
import type { Cosignature, ErrorCode, HeadKeyView, HeadView, SignedHead } from '../protocol/index.js';
import { answerLedgerRead, type LedgerReads } from './ledger-read.js';
import type { ClientBuffers, HttpRoutes } from '../defence/index.js';
import { parseIndex, readBody, sendError, sendJson, type HttpResponse } from '../uws/index.js';

/** A co-signature body is a few hundred bytes of JSON. */
const MAX_COSIGNATURE_BYTES = 4096;

/** The newest durable signed head, as the sealer reports it (null until the first, and with heads off). */
export class LatestHead {
  private head: SignedHead | null = null;

  get(): SignedHead | null {
    return this.head;
  }

  /** Takes the head of a sealer event that carries one. */
  observe(event: SealerEvent): void {
    const head = event.type === 'ready' || event.type === 'head' ? event.head : event.type === 'sealed' ? event.directory.head : undefined;
    if (head !== null && head !== undefined) this.head = signedHead(head);
  }
}

function signedHead(event: SignedHeadEvent): SignedHead {
  return { size: event.size, time: event.time, root: Buffer.from(event.root).toString('hex'), signature: Buffer.from(event.signature).toString('hex') };
}

export interface CosignatureReceiver {
  list(): Cosignature[];
  accept(body: unknown, latestSize: number): Promise<Cosignature | { code: ErrorCode; message: string }>;
}

export interface DirectoryRouteContext {
  /** Null with heads off (heads.enabled false): every route here answers not_found. */
  key: HeadKeyView | null;
  latest: LatestHead;
  ledger: LedgerReads;
  /** Null without configured witnesses. */
  cosignatures: CosignatureReceiver | null;
  buffers: ClientBuffers;
}

/** What `?head=` of an entry proof asks for: a log size, none, or why it cannot be had. */
export type ProofHead = { size: number | undefined } | { code: ErrorCode; message: string };

const HEADS_OFF = 'this gateway keeps no signed heads (heads.enabled is false)';

/** `?head=latest` or `?head=N` of `GET /v1/chains/{name}/entries/{seq}`, against the latest head. */
export function proofHead(param: string | null, latest: SignedHead | null, key: HeadKeyView | null): ProofHead {
  if (param === null) return { size: undefined };
  if (key === null) return { code: 'not_found', message: HEADS_OFF };
  if (latest === null) return { code: 'not_found', message: 'no head is signed yet' };
  if (param === 'latest') return { size: latest.size };
  const size = parseIndex(param);
  if (size === null) return { code: 'bad_request', message: `head must be "latest" or a log size, got ${JSON.stringify(param)}` };
  if (size > latest.size) return { code: 'not_found', message: `no head of size ${size}: the latest head is of size ${latest.size}` };
  return { size };
}

export function addDirectoryRoutes(app: HttpRoutes, ctx: DirectoryRouteContext): void {
  app.get('/v1/directory/key', (res) => {
    if (ctx.key === null) return sendError(res, 'not_found', HEADS_OFF);
    sendJson(res, '200 OK', ctx.key);
  });
  app.get('/v1/directory/head', (res, req) => {
    const latest = latestOr404(ctx, res);
    if (latest === null) return;
    const param = new URLSearchParams(req.getQuery() ?? '').get('size');
    if (param === null) {
      const view: HeadView = { ...latest, key: ctx.key!.key, cosignatures: ctx.cosignatures?.list() ?? [] };
      return sendJson(res, '200 OK', view);
    }
    const size = sizeOr4xx(res, param, 'size', latest);
    if (size === null) return;
    answerLedgerRead(
      ctx.ledger,
      res,
      { kind: 'head', size },
      `no head was signed at size ${size} (a store keeps one for every size it signed since it had heads)`,
      (json) => `${json.slice(0, -1)},"key":"${ctx.key!.key}"}`,
    );
  });
  app.get('/v1/directory/consistency', (res, req) => {
    const latest = latestOr404(ctx, res);
    if (latest === null) return;
    const query = new URLSearchParams(req.getQuery() ?? '');
    const to = sizeOr4xx(res, query.get('to') ?? String(latest.size), 'to', latest);
    if (to === null) return;
    const from = indexOr400(res, query.get('from'), 'from');
    if (from === null) return;
    if (from > to) return sendError(res, 'bad_request', `from ${from} is beyond to ${to}`);
    answerLedgerRead(ctx.ledger, res, { kind: 'consistency', from, to }, 'no such proof');
  });
  app.get('/v1/directory/inclusion', (res, req) => {
    const latest = latestOr404(ctx, res);
    if (latest === null) return;
    const query = new URLSearchParams(req.getQuery() ?? '');
    const size = sizeOr4xx(res, query.get('size') ?? String(latest.size), 'size', latest);
    if (size === null) return;
    const height = indexOr400(res, query.get('height'), 'height');
    if (height === null) return;
    if (height >= size) return sendError(res, 'not_found', `directory ${height} is not in the log of size ${size}`);
    answerLedgerRead(ctx.ledger, res, { kind: 'inclusion', height, size }, `no directory block ${height}`);
  });
  app.post('/v1/directory/cosignatures', (res) => {
    postCosignature(ctx, res).catch(() => undefined);
  });
}

async function postCosignature(ctx: DirectoryRouteContext, res: HttpResponse): Promise<void> {
  let aborted = false;
  const body = await readBody(res, MAX_COSIGNATURE_BYTES, ctx.buffers, () => {
    aborted = true;
  });
  if (body === null || aborted) return;
  const latest = ctx.latest.get();
  if (ctx.key === null || latest === null) return sendError(res, 'not_found', HEADS_OFF);
  if (ctx.cosignatures === null) return sendError(res, 'not_found', 'this gateway takes no co-signatures (heads.witnesses is empty)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return sendError(res, 'bad_request', `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const kept = await ctx.cosignatures.accept(parsed, latest.size);
    if (aborted) return;
    if ('code' in kept) return sendError(res, kept.code, kept.message);
    sendJson(res, '200 OK', kept);
  } catch (error) {
    if (!aborted) sendError(res, 'internal', `cannot keep the co-signature: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function latestOr404(ctx: DirectoryRouteContext, res: HttpResponse): SignedHead | null {
  const latest = ctx.key === null ? null : ctx.latest.get();
  if (latest === null) sendError(res, 'not_found', ctx.key === null ? HEADS_OFF : 'no head is signed yet');
  return latest;
}

function indexOr400(res: HttpResponse, text: string | null, what: string): number | null {
  const value = parseIndex(text ?? undefined);
  if (value === null) sendError(res, 'bad_request', `${what} must be a non-negative integer, got ${JSON.stringify(text ?? '')}`);
  return value;
}

/** A log size up to the latest head's, or null after answering why not. */
function sizeOr4xx(res: HttpResponse, text: string, what: string, latest: SignedHead): number | null {
  const size = indexOr400(res, text, what);
  if (size === null) return null;
  if (size > latest.size) {
    sendError(res, 'not_found', `${what} ${size} is beyond the latest head, of size ${latest.size}`);
    return null;
  }
  return size;
}
