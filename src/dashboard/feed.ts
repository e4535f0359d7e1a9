// The dashboard's live feed (docs/protocol.md "Dashboard"): `GET /v1/dashboard/stream`,
// a WebSocket of JSON text messages. The state is sampled on a timer, never per
// event, so however busy the gateway is a browser gets at most one message per
// tick; a socket that has not drained the last one is skipped (it gets the next
// tick's state instead), so a slow browser sees fewer updates, never a queue.
// A page's chain view asks for one chain's history (chain-history.ts) with the
// only message the feed reads, `{"watch": name}`.
import type { ChainState, ChainRegistry } from '../frontdoor/index.js';
import type { ConnectionGuard } from '../defence/index.js';
import type { HttpRoutes } from '../defence/index.js';
import {
  presentedKey,
  sendError,
  sendJson,
  type HttpRequest,
  type HttpResponse,
  type TemplatedApp,
  type WebSocket,
  type us_socket_context_t,
} from '../uws/index.js';
import { isRefusal, type CreditBook, type Principal } from '../credits/index.js';
import type { LaneDecision, LaneDecisions } from '../scheduler/index.js';
import { CHAIN_HISTORY, DASHBOARD } from './bounds.js';
import { CHAIN_LANES, ChainHistories } from './chain-history.js';
import type { CommitSampler } from './commit-sampler.js';

/** What uWS itself may hold for a feed socket before closing it: a message or two of the largest kind. */
const DASHBOARD_MAX_BACKPRESSURE = 4 * 1024 * 1024;

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
  /** Admission and the commit hop time frames into it; the feed takes its quantiles each tick. */
  commits: CommitSampler;
  /** The balancer's decisions (GET /v1/lanes/events): each tick sends the new ones. */
  decisions: Pick<LaneDecisions, 'after' | 'lastId'>;
  /** A gateway in a fleet: its members, their load, the fleet's moves (built elsewhere, read here); null on a gateway of its own. */
  fleet?: () => FleetDashboardView | null;
}

/** The fleet as the dashboard shows it (src/wiring/fleet-view.ts builds it); moves name chains, so a viewer sees only those of its own. */
export interface FleetDashboardView {
  gateway: string;
  members: readonly object[];
  moves: readonly { chain: string | null }[];
}

interface FeedSocket {
  address: string;
  principal: Principal | null;
  /** The chain this page's chain view watches (its slot), or null. */
  watching: number | null;
  watchingName: string;
  /** The whole history of the watched chain is owed: just watched, or a message was skipped. */
  owesHistory: boolean;
  /** Why its last message was refused, sent with the next tick. */
  refusal: { code: string; message: string } | null;
}

/** Who may watch which chains: everyone in open mode, the admin all, an account the chains it owns. */
function sees(principal: Principal | null, credits: CreditBook | null): (chain: string) => boolean {
  if (principal === null || credits === null) return () => true;
  return credits.listedFor(principal);
}

/** The chain view's points are taken every this many ticks. */
const TICKS_PER_POINT = Math.max(1, Math.round(CHAIN_HISTORY.pointMs / DASHBOARD.tickMs));

export class DashboardFeed {
  readonly commits: CommitSampler;
  readonly chainHistories: ChainHistories;
  private readonly sources: DashboardSources;
  private readonly sockets = new Set<WebSocket<FeedSocket>>();
  private readonly history: DashboardSample[] = [];
  /** The id of the last balancer decision sent: each tick sends those after it. */
  private decisionsSent = 0;
  private ticks = 0;
  private timer: NodeJS.Timeout | null = null;
  private last: { at: number; accepted: number; committed: number; latency: Float64Array } = { at: 0, accepted: 0, committed: 0, latency: new Float64Array(0) };
  /** Ticks whose message a socket missed because it had not drained: a test and an operator can see skipping happens. */
  skipped = 0;

  constructor(sources: DashboardSources) {
    this.sources = sources;
    this.commits = sources.commits;
    this.chainHistories = new ChainHistories({
      chains: sources.chains,
      latencySumMs: sources.commits.chainLatencySumMs,
      latencyCount: sources.commits.chainLatencyCount,
      creditsBurned: (name) => (sources.credits === null ? null : (sources.credits.chains.get(name)?.burned ?? 0)),
    });
  }

  start(): void {
    this.last = { at: Date.now(), accepted: this.sources.entriesAccepted(), committed: this.sources.entriesCommitted(), latency: this.latencyCounts() };
    // Decisions made before the feed started are GET /v1/lanes/events' to tell.
    this.decisionsSent = this.sources.decisions.lastId;
    this.timer = setInterval(() => this.tick(), DASHBOARD.tickMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const ws of this.sockets) ws.end(1001, 'the gateway is shutting down');
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
      // The feed reads one small message from the browser, which chain to watch; a larger one closes it.
      maxPayloadLength: DASHBOARD.maxMessageBytes,
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
      message: (ws, message, isBinary) => this.onMessage(ws.getUserData(), message, isBinary),
      close: (ws) => {
        this.sockets.delete(ws);
        const user = ws.getUserData();
        if (user.watching !== null) this.chainHistories.unwatch(user.watching);
        this.sources.guard.release(user.address);
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
    const user: FeedSocket = { address, principal, watching: null, watchingName: '', owesHistory: false, refusal: null };
    res.upgrade<FeedSocket>(
      user,
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  }

  /**
   * `{"watch": name}` or `{"watch": null}`: the chain view opened or closed.
   * Nothing is sent from here: the history (or the refusal) goes with the next
   * tick, so however many messages a page sends it gets at most one of each a tick.
   */
  private onMessage(user: FeedSocket, message: ArrayBuffer, isBinary: boolean): void {
    const watch = isBinary ? 'a binary message' : watchRequest(Buffer.from(message).toString('utf8'));
    if (typeof watch !== 'object') {
      user.refusal = { code: 'bad_request', message: `the feed reads only {"watch": chain name or null}, got ${watch}` };
      return;
    }
    if (user.watching !== null) this.chainHistories.unwatch(user.watching);
    user.watching = null;
    if (watch.chain === null) return;
    const visible = sees(user.principal, this.sources.credits)(watch.chain);
    const slot = visible
      ? this.chainHistories.watch(watch.chain)
      : { code: 'unknown_chain', message: `no chain ${JSON.stringify(watch.chain)} among those this key sees` };
    if (typeof slot !== 'number') {
      user.refusal = slot;
      return;
    }
    Object.assign(user, { watching: slot, watchingName: watch.chain, owesHistory: true });
  }

  private tick(): void {
    const sample = this.sample();
    this.history.push(sample);
    if (this.history.length > DASHBOARD.historySamples) this.history.shift();
    const pointTaken = ++this.ticks % TICKS_PER_POINT === 0;
    if (pointTaken) this.chainHistories.sample();
    const { events, dropped } = this.newDecisions();
    // One message per kind of viewer per tick, however many sockets share it.
    const messages = new Map<string, string>();
    for (const ws of this.sockets) {
      const user = ws.getUserData();
      if (ws.getBufferedAmount() > DASHBOARD.maxBufferedBytes) {
        this.skipped++;
        // It misses points: the next message it gets is the whole history.
        user.owesHistory ||= user.watching !== null;
        continue;
      }
      const principal = user.principal;
      const viewer = principal === null || principal.kind === 'admin' ? '' : principal.account;
      let message = messages.get(viewer);
      if (message === undefined) {
        const visible = sees(principal, this.sources.credits);
        const mine = events.filter((e) => e.chain === undefined || visible(e.chain));
        message = JSON.stringify({ type: 'tick', sample, events: mine, eventsDropped: dropped, ...this.state(principal) });
        messages.set(viewer, message);
      }
      ws.send(message, false);
      this.sendOwn(ws, user, pointTaken);
    }
  }

  /** A socket's own messages: a refusal of what it sent, and its watched chain's history or newest point. */
  private sendOwn(ws: WebSocket<FeedSocket>, user: FeedSocket, pointTaken: boolean): void {
    if (user.refusal !== null) {
      ws.send(JSON.stringify({ type: 'error', error: user.refusal }), false);
      user.refusal = null;
    }
    if (user.watching === null) return;
    const chain = user.watchingName;
    if (user.owesHistory) {
      user.owesHistory = false;
      const series = this.chainHistories.series(user.watching);
      ws.send(JSON.stringify({ type: 'chain-history', chain, pointMs: CHAIN_HISTORY.pointMs, lanes: CHAIN_LANES, series }), false);
    } else if (pointTaken) {
      const series = this.chainHistories.latest(user.watching);
      if (series !== null) ws.send(JSON.stringify({ type: 'chain-point', chain, series }), false);
    }
  }

  /**
   * The balancer's decisions since the last tick, oldest first, at most
   * maxEventsPerTick (the rest go with the next ticks); `dropped` counts those
   * the ring let go before they were sent.
   */
  private newDecisions(): { events: LaneDecision[]; dropped: number } {
    const events = this.sources.decisions.after(this.decisionsSent, DASHBOARD.maxEventsPerTick);
    if (events.length === 0) return { events, dropped: 0 };
    const dropped = events[0]!.id - this.decisionsSent - 1;
    this.decisionsSent = events.at(-1)!.id;
    return { events, dropped };
  }

  /** Lanes and the chains a viewer may see, busiest first. */
  private state(principal: Principal | null): Record<string, unknown> {
    const visible = sees(principal, this.sources.credits);
    const all = this.sources.chains.all().filter((c) => visible(c.name));
    const chains = all
      .map((c) => this.sources.chainInfo(c))
      .sort((a, b) => Number(b.entriesPerSec ?? 0) - Number(a.entriesPerSec ?? 0))
      .slice(0, DASHBOARD.maxChains);
    // An account sees the lanes (cores, capacity, utilisation) but only its own chains in them.
    const lanes = this.sources.lanes() as { lanes?: { chains?: string[] }[] };
    const shown = { ...lanes, lanes: lanes.lanes?.map((lane) => ({ ...lane, chains: lane.chains?.filter(visible) })) };
    const fleetView = this.sources.fleet?.() ?? null;
    const fleet = fleetView === null ? null : { ...fleetView, moves: fleetView.moves.filter((m) => m.chain === null || visible(m.chain)) };
    return {
      lanes: shown,
      chains,
      chainsTotal: all.length,
      anchors: this.sources.anchors(),
      fleet,
      viewer: principal === null ? 'open' : principal.kind === 'admin' ? 'admin' : principal.account,
    };
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
    for (const h of this.sources.acceptedLatency)
      h.counts.forEach((n, i) => {
        sum[i]! += n;
      });
    return sum;
  }
}

/** A browser's message as `{chain}` to watch (null: none), or what it was instead. */
function watchRequest(text: string): { chain: string | null } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `text that is not JSON (${text.length} characters)`;
  }
  const keys = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.keys(parsed) : [];
  const chain = (parsed as { watch?: unknown } | null)?.watch;
  if (keys.length !== 1 || keys[0] !== 'watch' || (chain !== null && typeof chain !== 'string')) {
    return JSON.stringify(parsed).slice(0, 100);
  }
  return { chain };
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
