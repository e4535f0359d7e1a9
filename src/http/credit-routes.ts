// The routes of accounts, keys, chains' owners and policies, and credits
// (docs/protocol.md §6.10–6.13). Each authenticates first (the key is read
// synchronously, while uWS's request is valid), then reads a JSON body if it
// takes one, and answers what src/credits decides. In open mode they answer
// `not_found`, saying how to turn them on.
import { parseChainName, CHAIN_NAME_RULE } from '../protocol/index.js';
import { isRefusal, type Credits, type Principal, type Refusal } from '../credits/index.js';
import type { HttpRoutes } from '../defence/index.js';
import type { Logger } from '../log/index.js';
import type { Admission, ChainRegistry } from '../frontdoor/index.js';
import type { ClientBuffers } from '../defence/index.js';
import { presentedKey } from '../uws/index.js';
import { parseIndex, readBody, sendError, sendJson } from '../uws/index.js';
import type { HttpRequest, HttpResponse } from '../uws/index.js';

/** The routes' bodies are small JSON objects. */
const MAX_BODY_BYTES = 64 * 1024;
const HISTORY_PAGE = { defaultLimit: 100, maxLimit: 1000 };
const ACCOUNT_PAGE = { defaultLimit: 100, maxLimit: 1000 };

export interface CreditRouteContext {
  log: Logger;
  credits: Credits;
  chains: ChainRegistry;
  buffers: ClientBuffers;
  /** A key was revoked: its open streams are closed (stream.ts revokeStreams). */
  revoked(keyId: string): void;
  /** In a fleet: claiming a new chain's name for this gateway, and the chains another gateway serves (admission.ts). */
  admission: Pick<Admission, 'claim' | 'servedElsewhere'>;
}

type Answer = { status: string; body: unknown } | Refusal;
type Handler = (principal: Principal, params: string[], body: unknown, query: URLSearchParams) => Answer | Promise<Answer>;

const ok = (body: unknown): Answer => ({ status: '200 OK', body });
const created = (body: unknown): Answer => ({ status: '201 Created', body });
const answered = <T>(value: T | Refusal, status: (v: T) => Answer): Answer => (isRefusal(value) ? value : status(value));

/** The uWS methods the routes are added with. */
/** The routes as the connection guard hands them out (guard.ts), so every credit route is guarded too. */
type Routes = Pick<HttpRoutes, 'get' | 'post' | 'put' | 'del'>;

export function addCreditRoutes(app: Routes, ctx: CreditRouteContext): void {
  const { credits } = ctx;
  const route = (params: number, takesBody: boolean, handler: Handler) => handle(ctx, params, takesBody, handler);
  app.post(
    '/v1/accounts',
    route(0, true, async (p, _, body) => answered(await credits.createAccount(p, body), created)),
  );
  app.get(
    '/v1/accounts',
    route(0, false, (p, _, __, query) => {
      const page = pageOr(query, ACCOUNT_PAGE);
      return isRefusal(page) ? page : answered(credits.accounts(p, page.from, page.limit), ok);
    }),
  );
  app.get(
    '/v1/accounts/:id',
    route(1, false, (p, [id]) => answered(credits.account(p, id!), ok)),
  );
  app.post(
    '/v1/accounts/:id/keys',
    route(1, true, async (p, [id], body) => answered(await credits.addKey(p, id!, body), created)),
  );
  app.del(
    '/v1/accounts/:id/keys/:keyId',
    route(2, false, async (p, [id, keyId]) => answered(await credits.revokeKey(p, id!, keyId!, ctx.revoked), ok)),
  );
  app.post(
    '/v1/chains',
    route(0, true, (p, _, body) => createChain(ctx, p, body)),
  );
  app.put(
    '/v1/chains/:name/policy',
    route(1, true, async (p, [name], body) => {
      const nextSeqOf = (chain: string): number => ctx.chains.get(chain)?.nextSeq ?? 0;
      return answered(await credits.setPolicy(p, name!, body, nextSeqOf), ok);
    }),
  );
  app.post(
    '/v1/chains/:name/credits/mint',
    route(1, true, async (p, [name], body) => answered(await credits.mint(p, name!, body), ok)),
  );
  app.post(
    '/v1/chains/:name/credits/transfer',
    route(1, true, async (p, [name], body) => answered(await credits.transfer(p, name!, body), ok)),
  );
  // Before ".../credits/:account": uWS prefers the static segment, and account ids never read "ledger".
  app.get(
    '/v1/chains/:name/credits/ledger',
    route(1, false, (p, [name], _, query) => {
      const page = pageOr(query, HISTORY_PAGE);
      return isRefusal(page) ? page : answered(credits.history(p, name!, page.from, page.limit), ok);
    }),
  );
  app.get(
    '/v1/chains/:name/credits/:account',
    route(2, false, (p, [name, account]) => answered(credits.balance(p, name!, account!), ok)),
  );
}

/** Open mode: the same routes, answering how to get them. */
export function addOpenModeCreditRoutes(app: Routes): void {
  const notServed = (res: HttpResponse): void =>
    sendError(
      res,
      'not_found',
      'this gateway runs in open mode (no admin key): there are no accounts, keys or credits; ' +
        'start it with CHAINLANES_ADMIN_KEY or auth.adminKeyFile to serve them',
    );
  for (const path of ['/v1/accounts', '/v1/accounts/:id/keys', '/v1/chains', '/v1/chains/:name/credits/mint', '/v1/chains/:name/credits/transfer'])
    app.post(path, notServed);
  for (const path of ['/v1/accounts', '/v1/accounts/:id', '/v1/chains/:name/credits/ledger', '/v1/chains/:name/credits/:account']) app.get(path, notServed);
  app.put('/v1/chains/:name/policy', notServed);
  app.del('/v1/accounts/:id/keys/:keyId', notServed);
}

/**
 * A chain takes a slot in the chain table when it is created, so that it is
 * listed at once and a full table refuses it before anything is written.
 */
async function createChain(ctx: CreditRouteContext, principal: Principal, body: unknown): Promise<Answer> {
  const request = ctx.credits.chainRequest(principal, body);
  if (isRefusal(request)) return request;
  // In a fleet the name is claimed for this gateway first: taken by another, it is answered `moved` naming that one.
  const claimed = await ctx.admission.claim(request.name);
  if (claimed !== null) return { refused: true, code: claimed.code, message: claimed.message, location: claimed.location };
  const chain = ctx.chains.getOrCreate(request.name);
  if (chain === undefined) {
    return { refused: true, code: 'forbidden', message: `the gateway already serves its limit of ${ctx.chains.table.maxChains} chains (limits.maxChains)` };
  }
  return answered(await ctx.credits.createChain(request, chain.nextSeq), created);
}

function badRequest(field: string, value: string | null): Refusal {
  return { refused: true, code: 'bad_request', message: `${field} must be a non-negative integer, got ${JSON.stringify(value)}` };
}

/** `?from=&limit=` of a listing, the limit capped. */
function pageOr(query: URLSearchParams, rule: { defaultLimit: number; maxLimit: number }): { from: number; limit: number } | Refusal {
  const from = parseIndex(query.get('from') ?? '0');
  const limit = parseIndex(query.get('limit') ?? String(rule.defaultLimit));
  if (from === null) return badRequest('from', query.get('from'));
  if (limit === null) return badRequest('limit', query.get('limit'));
  return { from, limit: Math.min(limit, rule.maxLimit) };
}

/**
 * One route: authenticates, checks the chain name in the path (if any), reads
 * the body (if any) as JSON, runs the handler and answers. Nothing is read or
 * done for a request whose key is refused.
 */
function handle(ctx: CreditRouteContext, params: number, takesBody: boolean, handler: Handler): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    const principal = ctx.credits.authenticate(presentedKey(req, false));
    if (isRefusal(principal)) return sendError(res, principal.code, principal.message);
    const values = Array.from({ length: params }, (_, i) => req.getParameter(i) ?? '');
    const url = req.getUrl();
    if (url.startsWith('/v1/chains/')) {
      const name = parseChainName(values[0]!);
      if (name === null) return sendError(res, 'bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`);
      const elsewhere = ctx.admission.servedElsewhere(name);
      if (elsewhere !== null) return sendError(res, elsewhere.code, elsewhere.message, undefined, elsewhere.location);
      values[0] = name;
    }
    const query = new URLSearchParams(req.getQuery() ?? '');
    const where = `${req.getCaseSensitiveMethod()} ${url}`;
    let aborted = false;
    const run = async (): Promise<void> => {
      let body: unknown;
      if (takesBody) {
        const raw = await readBody(res, MAX_BODY_BYTES, ctx.buffers, () => {
          aborted = true;
        });
        if (raw === null) return;
        // An empty body is no body: the handler says whether it needed one.
        const parsed = raw.length === 0 ? { value: undefined } : parseJson(raw);
        if (isRefusal(parsed)) return sendError(res, parsed.code, parsed.message);
        body = parsed.value;
      }
      // Set (again) after the body is read: readBody's handler stops listening once it has it.
      res.onAborted(() => {
        aborted = true;
      });
      const answer = await handler(principal, values, body, query);
      if (aborted) return;
      if (isRefusal(answer)) sendError(res, answer.code, answer.message, undefined, answer.location ?? null);
      else sendJson(res, answer.status, answer.body);
    };
    run().catch((error: unknown) => {
      ctx.log.error({ event: 'internal-error', where, err: error }, `internal error in ${where}`);
      if (!aborted) sendError(res, 'internal', 'internal error; see the gateway log');
    });
  };
}

function parseJson(raw: Buffer): { value: unknown } | Refusal {
  try {
    return { value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch (error) {
    return { refused: true, code: 'bad_request', message: `the body is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}
