// A gateway's side of a handoff (DESIGN.md "Fleet"; docs/fleet.md "Handoff"),
// behind the routes of src/http/handoff-routes.ts:
//
// - the owner, `handoff {to}`: admission of the chain stops (frames get
//   `moved` naming `to`), its credits freeze, its open block is cut and
//   everything accepted is waited for until durable; the answer is the head
//   (next seq and height, last block hash, the fencing token, the credit
//   book). When the transfer commits in etcd the streams get their replies
//   and close 4001, and the credit book is closed here; when the handoff is
//   aborted (or its deadline passes) the chain is taken back and goes on.
// - the new gateway, `adopt {from, head}`: pulls the chain's blocks from the
//   owner's export page by page, each page checked and stored by the sealer
//   thread (Ledger.adopt) with the sealing gateway's directory proofs, then
//   opens the credit book; `prepare` pulls what is sealed before the
//   handoff, so the pause a writer sees copies only the tail.
import { Unpackr } from 'msgpackr';
import { isGatewayId, type HandoffEnd, type HandoffHead } from '../fleet/index.js';
import { movedStreams } from '../frontdoor/index.js';
import type { HandoffService } from '../http/index.js';
import { chainBookOr, isRefusal, refuse, type ChainBookRecords, type Refusal } from '../credits/index.js';
import type { ExportedBlock } from '../ledger/index.js';
import { errorMessage, type Logger } from '../log/index.js';
import type { FleetParts } from './fleet-parts.js';
import type { RunningParts } from './views.js';

/** A page of an export holds blocks up to about this many bytes (at least one block). */
const EXPORT_PAGE_BYTES = 8 * 1024 * 1024;
/** The most of an export page read from another gateway: one block may exceed EXPORT_PAGE_BYTES, never this. */
const MAX_PAGE_RESPONSE_BYTES = 512 * 1024 * 1024;
/** How long one export page may take to arrive. */
const PAGE_TIMEOUT_MS = 120_000;
const ZERO_HASH = '0'.repeat(64);

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface Closing {
  to: string;
  balances: Record<string, number>;
  atSeq: number;
}

export interface HandoffInputs {
  fleet: FleetParts;
  parts: RunningParts;
  /** The fleet's admin key (each gateway's, the same), for pulling blocks from the owner; null in open mode. */
  adminKey: string | null;
  /** How long the owner waits for what it accepted to become durable before giving up the handoff. */
  commitWaitMs: number;
  log: Logger;
}

export function handoffService(inputs: HandoffInputs): HandoffService {
  const { fleet, parts, log } = inputs;
  const credits = parts.store.credits;
  /** Credit books handed over, to be closed here once the transfer commits. */
  const closings = new Map<string, Closing>();
  const adopting = new Set<string>();
  fleet.node.onHandoffEnded((chain: string, end: HandoffEnd) => {
    const closing = closings.get(chain);
    closings.delete(chain);
    if (end === 'resumed') return credits?.thaw(chain);
    movedStreams(parts.clients.connections, chain);
    if (closing === undefined || credits === null) return;
    credits
      .closeChain(chain, closing.to, closing.balances, closing.atSeq)
      .catch((error: unknown) =>
        log.error(
          { event: 'fleet-closing-failed', chain, error: errorMessage(error) },
          `chain "${chain}" went to ${closing.to}, but its credit book could not be closed here: ${errorMessage(error)} (it stays in this store's book, unused)`,
        ),
      );
  });

  return {
    async handoff(chain, body) {
      const to = (body as { to?: unknown } | null)?.to;
      if (typeof to !== 'string' || !isGatewayId(to)) return refuse('bad_request', 'the body must be {"to": the id of the gateway to hand the chain to}');
      const verdict = fleet.node.gate.check(chain, performance.now());
      if (verdict.kind === 'moved') return refuse(verdict.location === null ? 'busy' : 'moved', verdict.message, verdict.location);
      if (verdict.kind === 'unclaimed') return refuse('unknown_chain', `no gateway of the fleet owns chain "${chain}"`);
      const token = fleet.node.handoffs.begin(chain, to);
      if (typeof token === 'string') return refuse('bad_request', token);
      credits?.freezeForHandoff(chain, to);
      const head = await sealedHead(chain, to, token);
      if (isRefusal(head)) {
        await fleet.node.handoffs.abort(chain, head.message);
        return head;
      }
      closings.set(chain, { to, balances: head.credits?.balances ?? {}, atSeq: head.nextSeq });
      log.info(
        { event: 'fleet-handoff-begun', chain, to, token, nextSeq: head.nextSeq, nextHeight: head.nextHeight },
        `handing chain "${chain}" off to ${to}: everything accepted is sealed (next seq ${head.nextSeq})`,
      );
      return head;
    },

    async abort(chain) {
      return { chain, end: await fleet.node.handoffs.abort(chain, 'asked by the coordinator') };
    },

    exportPage(chain, from) {
      return parts.store.readers.export({ kind: 'export', chain, from, maxBytes: EXPORT_PAGE_BYTES, self: fleet.self });
    },

    async adopt(chain, body) {
      const request = adoptRequest(body);
      if (isRefusal(request)) return request;
      if (fleet.node.table.get(chain)?.value.gateway === fleet.settings.gatewayId) return refuse('bad_request', `chain "${chain}" is this gateway's already`);
      const url = request.fromUrl ?? fleet.node.members.get(request.from)?.value.url ?? null;
      if (url === null) return refuse('bad_request', `gateway "${request.from}" is not a live member: give its URL (fromUrl)`);
      if (request.head !== null && credits === null && request.head.credits !== null)
        return refuse('bad_request', 'this gateway runs in open mode: it cannot take a chain with a credit book');
      if (adopting.has(chain)) return refuse('busy', `chain "${chain}" is being adopted already`);
      adopting.add(chain);
      try {
        return await adopt(chain, request.from, url, request.head);
      } finally {
        adopting.delete(chain);
      }
    },
  };

  /** After admission stopped: the open block cut, everything accepted durable, the credit book read. */
  async function sealedHead(chain: string, to: string, token: number): Promise<HandoffHead | Refusal> {
    const state = parts.shared.chains.get(chain);
    if (state !== undefined) {
      parts.intake.admission.cutBlocks();
      if (!(await state.waitCommitted(state.nextSeq, inputs.commitWaitMs))) {
        return refuse(
          'busy',
          `chain "${chain}" has entries not yet durable after ${inputs.commitWaitMs} ms (${parts.store.seals.refusal ?? 'the sealer is behind'}); the handoff was aborted`,
        );
      }
    }
    const view = parts.store.ledger.chain(chain);
    const nextSeq = view?.nextSeq ?? 0;
    if (nextSeq !== (state?.nextSeq ?? 0))
      return refuse('internal', `chain "${chain}": the store ends at seq ${nextSeq} but the front door at ${state?.nextSeq ?? 0}`);
    let book: ChainBookRecords | null = null;
    if (credits !== null) book = await credits.exportChain(chain);
    return {
      chain,
      from: fleet.settings.gatewayId,
      to,
      token,
      nextSeq,
      nextHeight: view?.nextHeight ?? 0,
      lastBlockHash: view?.lastBlockHash ?? ZERO_HASH,
      credits: book,
    };
  }

  async function adopt(chain: string, from: string, url: string, head: HandoffHead | null): Promise<unknown> {
    const started = performance.now();
    const held = parts.store.ledger.chain(chain);
    let at = { nextHeight: held?.nextHeight ?? 0, nextSeq: held?.nextSeq ?? 0, lastBlockHash: held?.lastBlockHash ?? ZERO_HASH };
    let next = at.nextHeight;
    let blocks = 0;
    for (;;) {
      const page = await fetchExportPage(url, chain, next, inputs.adminKey);
      if (isRefusal(page)) return page;
      if (page.blocks.length > 0) {
        try {
          const stored = await parts.threads.sealer.adopt(chain, page.blocks);
          at = { nextHeight: stored.nextHeight, nextSeq: stored.nextSeq, lastBlockHash: stored.lastBlockHash.toString('hex') };
        } catch (error) {
          return refuse('internal', `the blocks of chain "${chain}" from ${from} were refused: ${errorMessage(error)}`);
        }
        blocks += page.blocks.length;
        next = at.nextHeight;
      }
      if (page.next === null || page.blocks.length === 0) break;
    }
    if (head !== null && (at.nextHeight !== head.nextHeight || at.nextSeq !== head.nextSeq || at.lastBlockHash !== head.lastBlockHash)) {
      return refuse(
        'internal',
        `chain "${chain}" from ${from} ends at height ${at.nextHeight}, seq ${at.nextSeq}, but its head says height ${head.nextHeight}, seq ${head.nextSeq}`,
      );
    }
    const continued = continueChain(parts, chain, at.nextSeq, at.nextHeight);
    if (continued !== null) return continued;
    if (head !== null && head.credits !== null && credits !== null) await credits.openChain(chain, from, head.credits, head.nextSeq);
    const ms = Math.round(performance.now() - started);
    log.info(
      { event: 'fleet-adopted', chain, from, blocks, nextSeq: at.nextSeq, nextHeight: at.nextHeight, ms, prepare: head === null },
      `${head === null ? 'pre-copied' : 'adopted'} ${blocks} blocks of chain "${chain}" from ${from} in ${ms} ms (next seq ${at.nextSeq})`,
    );
    return { chain, ...at, blocks, ms };
  }
}

/**
 * The front door's state of the chain goes on after blocks stored here by
 * another way than its own seals (and the sealer's backlog with it): an
 * adoption's, or a takeover's replicated ones (docs/replicas.md part 5).
 */
export function continueChain(parts: RunningParts, chain: string, nextSeq: number, nextHeight: number): Refusal | null {
  const known = parts.shared.chains.get(chain);
  if (known === undefined) {
    if (parts.shared.chains.getOrCreate(chain, nextSeq, nextHeight) === undefined)
      return refuse('busy', `this gateway serves its limit of ${parts.shared.chains.table.maxChains} chains (limits.maxChains)`);
    return null;
  }
  if (known.nextSeq >= nextSeq) return null;
  try {
    known.continueAt(nextSeq, nextHeight);
  } catch (error) {
    return refuse('internal', errorMessage(error));
  }
  parts.threads.sealer.chain(known.slot, nextSeq);
  return null;
}

/**
 * A peer that answers `busy` (503: the owner's front door is short of time
 * and has barred this gateway's address for a while, or is at its
 * connection limits) is asked again after a pause, doubling from
 * EXPORT_BUSY_FIRST_PAUSE_MS, at most EXPORT_BUSY_TRIES times (~8 s in all):
 * a handoff or a standby's pull should not fail on the defence's judgement of
 * one overloaded turn (seen under load: a handoff aborted on a 1 s bar).
 */
const EXPORT_BUSY_TRIES = 6;
const EXPORT_BUSY_FIRST_PAUSE_MS = 250;

/** One page of a chain's export from another gateway of the fleet (`GET /v1/chains/{chain}/export`), checked for its shape; a Refusal saying why not. */
export async function fetchExportPage(
  url: string,
  chain: string,
  from: number,
  adminKey: string | null,
): Promise<{ blocks: ExportedBlock[]; next: number | null } | Refusal> {
  const where = new URL(`/v1/chains/${chain}/export?from=${from}`, url).href;
  let bytes: Uint8Array;
  try {
    const headers: Record<string, string> = adminKey === null ? {} : { authorization: `Bearer ${adminKey}` };
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(where, { headers, signal: AbortSignal.timeout(PAGE_TIMEOUT_MS) });
      bytes = await readCapped(response, MAX_PAGE_RESPONSE_BYTES);
      if (response.status === 503 && attempt < EXPORT_BUSY_TRIES) {
        await new Promise((resolve) => setTimeout(resolve, EXPORT_BUSY_FIRST_PAUSE_MS * 2 ** (attempt - 1)));
        continue;
      }
      if (!response.ok) return refuse('internal', `${where}: HTTP ${response.status}: ${Buffer.from(bytes).toString('utf8').slice(0, 300)}`);
      break;
    }
  } catch (error) {
    return refuse('internal', `${where}: ${errorMessage(error)}`);
  }
  let page: unknown;
  try {
    page = unpackr.unpack(bytes);
  } catch (error) {
    return refuse('internal', `${where}: not an export page (${errorMessage(error)})`);
  }
  const { blocks, next } = (page ?? {}) as { blocks?: unknown; next?: unknown };
  const valid =
    Array.isArray(blocks) &&
    blocks.every((b) => (b as { record?: unknown }).record instanceof Uint8Array && typeof (b as { proof?: unknown }).proof === 'object') &&
    (next === null || (typeof next === 'number' && Number.isSafeInteger(next) && next > from));
  if (!valid) return refuse('internal', `${where}: not an export page ({blocks: [{record, proof}], next})`);
  return { blocks: blocks as ExportedBlock[], next: next as number | null };
}

interface AdoptRequest {
  from: string;
  fromUrl: string | null;
  /** null: a pre-copy (`prepare`). */
  head: HandoffHead | null;
}

function adoptRequest(body: unknown): AdoptRequest | Refusal {
  const b = (body ?? {}) as { from?: unknown; fromUrl?: unknown; prepare?: unknown; head?: unknown };
  const rule = 'the body must be {"from": the owner\'s gateway id, "fromUrl"?: its URL, and "head": its handoff head, or "prepare": true}';
  if (typeof b.from !== 'string' || !isGatewayId(b.from)) return refuse('bad_request', rule);
  if (b.fromUrl !== undefined && (typeof b.fromUrl !== 'string' || !/^https?:\/\//.test(b.fromUrl)))
    return refuse('bad_request', `fromUrl: an http(s) URL; ${rule}`);
  const fromUrl = typeof b.fromUrl === 'string' ? b.fromUrl : null;
  if (b.prepare === true) return { from: b.from, fromUrl, head: null };
  const head = b.head as Partial<HandoffHead> | undefined;
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    typeof head !== 'object' ||
    head === null ||
    !int(head.nextSeq) ||
    !int(head.nextHeight) ||
    typeof head.lastBlockHash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(head.lastBlockHash)
  ) {
    return refuse('bad_request', `head: {nextSeq, nextHeight, lastBlockHash, credits, …} as the owner's handoff answered it; ${rule}`);
  }
  return { from: b.from, fromUrl, head: { ...(head as HandoffHead), credits: chainBookOr(head.credits) } };
}

/** A response's body, refused past `cap` bytes. */
async function readCapped(response: Response, cap: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (reader === undefined) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      throw new Error(`the answer is larger than ${cap} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
