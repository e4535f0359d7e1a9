// The dashboard's live feed (docs/protocol.md "Dashboard"): `GET /v1/dashboard/stream`,
// a WebSocket of JSON text messages. The state is sampled on a timer, never per
// event, so however busy the gateway is a browser gets at most one message per
// tick; a socket that has not drained the last one is skipped (it gets the next
// tick's state instead), so a slow browser sees fewer updates, never a queue.
import type { ChainState, ChainRegistry } from './chains.js';
import type { ConnectionGuard } from './guard.js';
import type { CommitProbe } from './admission.js';
import { presentedKey } from './credentials.js';
import { sendError, sendJson } from './http-util.js';
import type { HttpRoutes } from './guard.js';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from './uws.js';
import { isRefusal, type CreditBook, type Principal } from '../credits/index.js';

/** The feed's fixed bounds: one concept, one place. */
export const DASHBOARD = {
  /** One sample (and at most one message per socket) per tick: 4 per second. */
  tickMs: 250,
  /** Samples kept for the charts: five minutes at 4 per second; a new page gets them all. */
  historySamples: 1200,
  /** Moves kept between two ticks; more in one tick are counted, not kept. */
  maxEventsPerTick: 100,
  /** Chains listed per message, busiest first; the total is always given. */
  maxChains: 500,
  /**
   * A socket holding more unsent bytes than this in uWS is skipped for the tick:
   * 0, so one that has not drained its last message gets no new one (the kernel's
   * socket buffers come first; uWS buffers only what they refuse).
   */
  maxBufferedBytes: 0,
  /** Open feeds at once; each costs one JSON message per tick. */
  maxSockets: 64,
  /** Commit latencies kept per tick for its quantiles; past it the tick's sample is taken from the first ones. */
  maxCommitSamplesPerTick: 4096,
} as const;

/** What uWS itself may hold for a feed socket before closing it: a message or two of the largest kind. */
const DASHBOARD_MAX_BACKPRESSURE = 4 * 1024 * 1024;

/** A chain or core move, as it happened. */
export type DashboardEvent =
  | { type: 'chain-move'; at: number; chain: string; from: string; to: string; entriesPerSec: number }
  | { type: 'cores'; at: number; lanes: Record<string, number[]>; utilisation: Record<string, number> };

/** One point of the charts. Latencies are in ms: the bucket bound the quantile falls under (null: no traffic). */
export interface DashboardSample {
  at: number;
  acceptedPerSec: number;
  committedPerSec: number;
  acceptedP50Ms: number | null;
  acceptedP99Ms: number | null;
  /** From admission to the block's seal, sampled: one frame per chain at a time (null: none committed). */
  committedP50Ms: number | null;
  committedP99Ms: number | null;
  /** Entries accepted and not yet durable, over every chain. */
  uncommitted: number;
}

export interface DashboardSources {
  chains: ChainRegistry;
  chainInfo(chain: ChainState): Record<string, unknown>;
  lanes(): unknown;
  /** The Ethereum anchoring's state as /healthz shows it (backlog, window in flight), or null when the gateway does not anchor. */
  anchors(): Record<string, unknown> | null;
  entriesAccepted(): number;
  entriesCommitted(): number;
  /** The per-lane hash latency histograms (src/metrics: per-bucket counts, cumulative over time); the feed takes differences. */
  acceptedLatency: readonly { readonly counts: Float64Array }[];
  /** Their buckets' upper bounds in seconds; the last count is above every bound. */
  latencyBoundsSec: readonly number[];
  credits: CreditBook | null;
  guard: ConnectionGuard;
}

interface FeedSocket {
  address: string;
  principal: Principal | null;
}

/** Who may watch which chains: everyone in open mode, the admin all, an account the chains it owns. */
function sees(principal: Principal | null, credits: CreditBook | null): (chain: string) => boolean {
  if (principal === null || principal.kind === 'admin' || credits === null) return () => true;
  return (chain) => credits.chains.get(chain)?.owner === principal.account;
}

/**
 * Samples commit latency at the cost of two typed-array cells per chain: while
 * a chain has a frame being timed, its later frames are not, so a frame is
 * timed per chain per block or so, whatever the rate. Written by admission and
 * by the sealer's events, both on the front door's thread.
 */
export class CommitSampler implements CommitProbe {
  /** Per chain slot: the seq the timed frame ends before (0: none timed), and when it was admitted. */
  private readonly endSeq: Float64Array;
  private readonly since: Float64Array;
  private latenciesMs: number[] = [];

  constructor(maxChains: number) {
    this.endSeq = new Float64Array(maxChains);
    this.since = new Float64Array(maxChains);
  }

  admitted(slot: number, endSeq: number, at: number): void {
    if (this.endSeq[slot] !== 0) return;
    this.endSeq[slot] = endSeq;
    this.since[slot] = at;
  }

  /** A block of chain `slot` up to `endSeq` is durable, now (performance.now()). */
  committed(slot: number, endSeq: number, now: number): void {
    const timed = this.endSeq[slot]!;
    if (timed === 0 || endSeq < timed) return;
    this.endSeq[slot] = 0;
    if (this.latenciesMs.length < DASHBOARD.maxCommitSamplesPerTick) this.latenciesMs.push(now - this.since[slot]!);
  }

  /** The latencies since the last call. */
  take(): number[] {
    const taken = this.latenciesMs;
    this.latenciesMs = [];
    return taken;
  }
}

export class DashboardFeed {
  readonly commits: CommitSampler;
  private readonly sources: DashboardSources;
  private readonly sockets = new Set<WebSocket<FeedSocket>>();
  private readonly history: DashboardSample[] = [];
  private events: DashboardEvent[] = [];
  private eventsDropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private last: { at: number; accepted: number; committed: number; latency: Float64Array } = { at: 0, accepted: 0, committed: 0, latency: new Float64Array(0) };
  /** Ticks whose message a socket missed because it had not drained: a test and an operator can see skipping happens. */
  skipped = 0;

  constructor(sources: DashboardSources) {
    this.sources = sources;
    this.commits = new CommitSampler(sources.chains.table.maxChains);
  }

  start(): void {
    this.last = { at: Date.now(), accepted: this.sources.entriesAccepted(), committed: this.sources.entriesCommitted(), latency: this.latencyCounts() };
    this.timer = setInterval(() => this.tick(), DASHBOARD.tickMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const ws of this.sockets) ws.end(1001, 'the gateway is shutting down');
  }

  /** A chain or core move; kept until the next tick sends it. */
  event(event: DashboardEvent): void {
    if (this.events.length >= DASHBOARD.maxEventsPerTick) this.eventsDropped++;
    else this.events.push(event);
  }

  /**
   * The feed, and `GET /v1/dashboard/session`: who the presented key is, so the
   * page can ask for a key before opening the feed (a browser is not told why a
   * WebSocket upgrade failed).
   */
  route(app: TemplatedApp, routes: HttpRoutes): void {
    routes.get('/v1/dashboard/session', (res, req) => {
      const credits = this.sources.credits;
      if (credits === null) return sendJson(res, '200 OK', { mode: 'open', viewer: 'open' });
      const principal = credits.authenticate(presentedKey(req, false));
      if (isRefusal(principal)) return sendError(res, principal.code, principal.message);
      sendJson(res, '200 OK', { mode: 'authenticated', viewer: principal.kind === 'admin' ? 'admin' : principal.account });
    });
    app.ws<FeedSocket>('/v1/dashboard/stream', {
      maxPayloadLength: 1024, // the feed reads nothing from the browser
      idleTimeout: 120,
      sendPingsAutomatically: true,
      compression: 0,
      // The feed skips a socket long before this; past it uWS drops the socket rather than buffer.
      maxBackpressure: DASHBOARD_MAX_BACKPRESSURE,
      closeOnBackpressureLimit: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => {
        this.sockets.add(ws);
        ws.send(JSON.stringify({ type: 'hello', tickMs: DASHBOARD.tickMs, history: this.history, ...this.state(ws.getUserData().principal) }), false);
      },
      close: (ws) => {
        this.sockets.delete(ws);
        this.sources.guard.release(ws.getUserData().address);
      },
    });
  }

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    const { guard, credits } = this.sources;
    const address = guard.admitUpgrade(res, req);
    if (address === null) return;
    let principal: Principal | null = null;
    if (credits !== null) {
      const granted = credits.authenticate(presentedKey(req, true));
      if (isRefusal(granted)) {
        guard.release(address);
        return sendError(res, granted.code, granted.message);
      }
      principal = granted;
    }
    if (this.sockets.size >= DASHBOARD.maxSockets || this.timer === null) {
      guard.release(address);
      return sendError(res, 'busy', `${DASHBOARD.maxSockets} dashboard feeds are open, the most this gateway serves; close one and retry`);
    }
    res.upgrade<FeedSocket>({ address, principal }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'), context);
  }

  private tick(): void {
    const sample = this.sample();
    this.history.push(sample);
    if (this.history.length > DASHBOARD.historySamples) this.history.shift();
    const events = this.events;
    const dropped = this.eventsDropped;
    this.events = [];
    this.eventsDropped = 0;
    // One message per kind of viewer per tick, however many sockets share it.
    const messages = new Map<string, string>();
    for (const ws of this.sockets) {
      if (ws.getBufferedAmount() > DASHBOARD.maxBufferedBytes) {
        this.skipped++;
        continue;
      }
      const principal = ws.getUserData().principal;
      const viewer = principal === null || principal.kind === 'admin' ? '' : principal.account;
      let message = messages.get(viewer);
      if (message === undefined) {
        const visible = sees(principal, this.sources.credits);
        const mine = events.filter((e) => e.type !== 'chain-move' || visible(e.chain));
        message = JSON.stringify({ type: 'tick', sample, events: mine, eventsDropped: dropped, ...this.state(principal) });
        messages.set(viewer, message);
      }
      ws.send(message, false);
    }
  }

  /** Lanes and the chains a viewer may see, busiest first. */
  private state(principal: Principal | null): Record<string, unknown> {
    const visible = sees(principal, this.sources.credits);
    const all = this.sources.chains.all().filter((c) => visible(c.name));
    const chains = all.map((c) => this.sources.chainInfo(c))
      .sort((a, b) => Number(b.entriesPerSec ?? 0) - Number(a.entriesPerSec ?? 0))
      .slice(0, DASHBOARD.maxChains);
    // An account sees the lanes (cores, capacity, utilisation) but only its own chains in them.
    const lanes = this.sources.lanes() as { lanes?: { chains?: string[] }[] };
    const shown = { ...lanes, lanes: lanes.lanes?.map((lane) => ({ ...lane, chains: lane.chains?.filter(visible) })) };
    return { lanes: shown, chains, chainsTotal: all.length, anchors: this.sources.anchors(), viewer: principal === null ? 'open' : principal.kind === 'admin' ? 'admin' : principal.account };
  }

  private sample(): DashboardSample {
    const now = Date.now();
    const accepted = this.sources.entriesAccepted();
    const committed = this.sources.entriesCommitted();
    const latency = this.latencyCounts();
    const seconds = Math.max((now - this.last.at) / 1000, 1e-3);
    const delta = latency.map((n, i) => n - this.last.latency[i]!);
    let uncommitted = 0;
    for (const chain of this.sources.chains.all()) uncommitted += chain.nextSeq - chain.committedSeq;
    const sample: DashboardSample = {
      at: now,
      acceptedPerSec: Math.round((accepted - this.last.accepted) / seconds),
      committedPerSec: Math.round((committed - this.last.committed) / seconds),
      acceptedP50Ms: quantileMs(delta, this.sources.latencyBoundsSec, 0.5),
      acceptedP99Ms: quantileMs(delta, this.sources.latencyBoundsSec, 0.99),
      ...commitQuantiles(this.commits.take()),
      uncommitted,
    };
    this.last = { at: now, accepted, committed, latency };
    return sample;
  }

  private latencyCounts(): Float64Array {
    const sum = new Float64Array(this.sources.latencyBoundsSec.length + 1);
    for (const h of this.sources.acceptedLatency) h.counts.forEach((n, i) => { sum[i]! += n; });
    return sum;
  }
}

/** The upper bound (ms) of the bucket holding quantile `q` of frames in `counts`; above every bound: the last bound. */
function quantileMs(counts: Float64Array, bounds: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= q * total) return 1000 * bounds[Math.min(i, bounds.length - 1)]!;
  }
  return 1000 * bounds[bounds.length - 1]!;
}

function commitQuantiles(latenciesMs: number[]): { committedP50Ms: number | null; committedP99Ms: number | null } {
  if (latenciesMs.length === 0) return { committedP50Ms: null, committedP99Ms: null };
  latenciesMs.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(10 * latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))]!) / 10;
  return { committedP50Ms: at(0.5), committedP99Ms: at(0.99) };
}
