// The connection guard: what every request passes before any route runs, the
// WebSocket upgrade included (docs/protocol.md §6, "Every request").
//
// - Host: only the gateway's own names. A web page that has an attacker's
//   name resolve to 127.0.0.1 (DNS rebinding) sends that name as Host; it is
//   refused, so a page cannot make the browser talk to the gateway as if it
//   were the attacker's own site.
// - Origin: browsers name the page that makes a request. WebSocket upgrades
//   (not subject to CORS) and requests that change state are refused unless
//   the origin is in `allowedOrigins`. Clients that are not browsers send no
//   Origin and pass.
// - Connections: WebSocket connections and HTTP requests in flight, in total
//   and per client address, are bounded below the descriptor limit
//   (descriptors.ts). Past a bound a request is refused `busy` at once and its
//   connection closed; /healthz is answered even then (it holds no slot: it is
//   answered on the spot, and its connection is covered by the reserve).
//   While descriptors run low (sockets the guard cannot count), new
//   connections and requests are refused the same way, which also closes
//   keep-alive connections at their next request.
// - Share: an address barred for taking more than its share of the front
//   door's time (address-turns.ts) is refused `busy` until the bar expires,
//   and then past a few new connections a second until it is forgiven. Every
//   request's handler time is charged to its address there, so one that
//   pipelines costly requests is judged like one flooding frames.
//
// The checks read two headers (and the method, for a route of any method that
// carries an Origin). Refusals are answered with the codes of src/protocol,
// counted by cause, and logged at most once per cause every 10 s. Past
// ANSWERED_REFUSALS_PER_TURN refusals to one address in one turn of the front
// door, further requests from it in that turn are closed without an answer:
// uWS hands over every request a connection pipelined even after the one that
// closed it was refused, so 1,000 connections of 32 pipelined requests each
// were 32,000 refusals, turns of tens of milliseconds (a run of the hostile bench before this; its numbers were not kept).
import { networkInterfaces } from 'node:os';
import type { ErrorCode } from '../protocol/index.js';
import type { Logger } from '../log/index.js';
import {
  clientAddress,
  readableAddress,
  refuse,
  watchResponse,
  type HttpRequest,
  type HttpResponse,
  type ResponseWatcher,
  type TemplatedApp,
} from '../uws/index.js';
import type { AddressTurns, EventLoopTurns } from './address-turns.js';
import { TURN_COUNTS, type TurnMeter } from './turn-meter.js';

export const REFUSAL_CAUSES = ['connections', 'address', 'descriptors', 'share', 'host', 'origin'] as const;
/**
 * connections: limits.maxConnections; address: limits.maxConnectionsPerAddress;
 * descriptors: file descriptors run low; share: the address is barred for
 * taking more than its share of the front door; host: the Host header; origin: the Origin header.
 */
export type RefusalCause = (typeof REFUSAL_CAUSES)[number];

const CODE_OF: Readonly<Record<RefusalCause, ErrorCode>> = {
  connections: 'busy',
  address: 'busy',
  descriptors: 'busy',
  share: 'busy',
  host: 'forbidden',
  origin: 'forbidden',
};

const LOG_EVERY_MS = 10_000;
/** Refusals answered per client address per turn; past it the connection is closed unanswered. */
const ANSWERED_REFUSALS_PER_TURN = 8;
/** How often requests in flight whose client went away (aborted) are given back their slot. */
const SWEEP_EVERY_MS = 1_000;

/** Names a gateway always answers to, besides its listen address. */
const LOCAL_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface GuardSettings {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** The configured listen host; it is one of the gateway's names. */
  listenHost: string;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  /** Route patterns answered even at the connection limits. */
  uncappedPaths: readonly string[];
  /**
   * Route patterns whose time is not charged to the address's share of the
   * front door: the operator's probes and scrapes, which cost what the
   * gateway's own state makes them cost (a scrape lists every descriptor),
   * and come from wherever monitoring runs. They must keep their own cost
   * bounded (one collection per SCRAPE_SHARED_MS at most, shared by the scrapes waiting for it: src/http/api-routes.ts).
   */
  unchargedPaths: readonly string[];
}

export interface GuardStats {
  refused: Record<RefusalCause, number>;
  /** WebSocket connections and HTTP requests in flight: what limits.maxConnections bounds. */
  held: number;
  httpInFlight: number;
}

export type RouteHandler = (res: HttpResponse, req: HttpRequest) => void;

/** Where HTTP routes are added; each handler runs behind the guard. */
export interface HttpRoutes {
  get(pattern: string, handler: RouteHandler): void;
  post(pattern: string, handler: RouteHandler): void;
  put(pattern: string, handler: RouteHandler): void;
  del(pattern: string, handler: RouteHandler): void;
  patch(pattern: string, handler: RouteHandler): void;
  any(pattern: string, handler: RouteHandler): void;
}

/** Whether a route's requests change state (their Origin is checked); `ask`: read the method (a route of any method). */
type Writes = boolean | 'ask';

export class ConnectionGuard implements ResponseWatcher {
  readonly stats: GuardStats = { refused: countByCause(), held: 0, httpInFlight: 0 };
  /** Set while file descriptors run low (DescriptorWatch): new connections and requests are refused. */
  descriptorsLow = false;
  private readonly settings: GuardSettings;
  private readonly log: Logger;
  /** Which addresses are barred; null when limits.frontDoorTurnBudgetMs is null. */
  private readonly turns: AddressTurns | null;
  private readonly perAddress = new Map<string, number>();
  /** HTTP requests holding a slot, with the address it is counted against. */
  private readonly inFlight = new Map<HttpResponse, string>();
  private readonly uncapped: ReadonlySet<string>;
  private readonly uncharged: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly anyHost: boolean;
  /** Filled in by `listening`, once the port is known. */
  private hosts: ReadonlySet<string> = new Set();
  private hostsRule = '';
  private readonly originsRule: string;
  private readonly lastLogged = countByCause();
  private readonly unlogged = countByCause();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** What the front door's turns held: requests, upgrades and refusals are counted here. */
  private readonly turnCounts: Float64Array;
  private readonly loopTurns: EventLoopTurns;
  /** Refusals answered per address in `refusalsTurn`. */
  private refusalsTurn = -1;
  private readonly refusalsByAddress = new Map<string, number>();

  constructor(settings: GuardSettings, log: Logger, turns: AddressTurns | null, meter: TurnMeter, loopTurns: EventLoopTurns) {
    this.settings = settings;
    this.log = log;
    this.turns = turns;
    this.turnCounts = meter.counts;
    this.loopTurns = loopTurns;
    this.uncapped = new Set(settings.uncappedPaths);
    this.uncharged = new Set(settings.unchargedPaths);
    this.origins = new Set(settings.allowedOrigins);
    this.anyOrigin = this.origins.has('*');
    this.anyHost = settings.allowedHosts.includes('*');
    this.originsRule =
      settings.allowedOrigins.length === 0
        ? 'allowedOrigins lists none (no web page may)'
        : `allowedOrigins lists only ${settings.allowedOrigins.map((o) => JSON.stringify(o)).join(', ')}`;
  }

  /** The gateway's names, each with and without `port`: its listen address (every interface address for a wildcard), localhost, 127.0.0.1, [::1], and allowedHosts. */
  listening(port: number): void {
    const own = [...LOCAL_NAMES, ...listenNames(this.settings.listenHost)];
    const hosts = new Set<string>();
    for (const name of [...own, ...this.settings.allowedHosts.map((h) => h.toLowerCase())]) {
      hosts.add(name);
      if (!hasPort(name)) hosts.add(`${name}:${port}`);
    }
    this.hosts = hosts;
    const configured = this.settings.allowedHosts.length === 0 ? 'none' : this.settings.allowedHosts.map((h) => JSON.stringify(h)).join(', ');
    this.hostsRule =
      `it answers to ${[...new Set([this.settings.listenHost, ...LOCAL_NAMES])].join(', ')} (with or without :${port}) ` +
      `and the names in allowedHosts (${configured}); add the name to allowedHosts if clients reach the gateway by it`;
    this.sweepTimer ??= setInterval(() => this.sweep(), SWEEP_EVERY_MS).unref();
  }

  stop(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** `app`'s route registration, with every handler behind the guard. */
  routes(app: TemplatedApp): HttpRoutes {
    return {
      get: (pattern, handler) => {
        app.get(pattern, this.wrap(false, pattern, handler));
      },
      post: (pattern, handler) => {
        app.post(pattern, this.wrap(true, pattern, handler));
      },
      put: (pattern, handler) => {
        app.put(pattern, this.wrap(true, pattern, handler));
      },
      del: (pattern, handler) => {
        app.del(pattern, this.wrap(true, pattern, handler));
      },
      patch: (pattern, handler) => {
        app.patch(pattern, this.wrap(true, pattern, handler));
      },
      any: (pattern, handler) => {
        app.any(pattern, this.wrap('ask', pattern, handler));
      },
    };
  }

  /**
   * In a WebSocket route's upgrade handler, before upgrading: the client
   * address the connection is counted against (give it back with `release`
   * when the connection closes), or null after refusing the upgrade.
   */
  admitUpgrade(res: HttpResponse, req: HttpRequest): string | null {
    this.turnCounts[TURN_COUNTS.upgrades]!++;
    if (!this.passes(res, req, true)) return null;
    return this.take(res);
  }

  /** A WebSocket connection admitted by `admitUpgrade` closed. */
  release(address: string): void {
    this.stats.held--;
    const n = this.perAddress.get(address) ?? 1;
    if (n <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, n - 1);
  }

  /** From http-util: an HTTP request holding a slot was answered. */
  answered(res: HttpResponse): void {
    const address = this.inFlight.get(res);
    if (address === undefined) return;
    this.inFlight.delete(res);
    this.stats.httpInFlight--;
    this.release(address);
  }

  private wrap(writes: Writes, pattern: string, handler: RouteHandler): RouteHandler {
    const charged = !this.uncharged.has(pattern);
    if (this.uncapped.has(pattern)) {
      return (res, req) => {
        this.turnCounts[TURN_COUNTS.requests]!++;
        if (!this.passes(res, req, writes)) return;
        if (charged) this.charged(clientAddress(res), () => handler(res, req));
        else handler(res, req);
      };
    }
    return (res, req) => {
      this.turnCounts[TURN_COUNTS.requests]!++;
      if (!this.passes(res, req, writes)) return;
      const address = this.take(res);
      if (address === null) return;
      this.inFlight.set(res, address);
      this.stats.httpInFlight++;
      watchResponse(res, this);
      if (charged) this.charged(address, () => handler(res, req));
      else handler(res, req);
    };
  }

  /** Runs a request's handler and charges the time it took to the address's share of the front door. */
  private charged(address: string, run: () => void): void {
    if (this.turns === null) return run();
    const started = performance.now();
    try {
      run();
    } finally {
      this.turns.chargeRequest(address, (performance.now() - started) * 1000);
    }
  }

  /** The Host and Origin checks; false after refusing. */
  private passes(res: HttpResponse, req: HttpRequest, writes: Writes): boolean {
    if (!this.anyHost) {
      const host = req.getHeader('host');
      // Browsers always send Host; a client that sends none is not a web page.
      if (host !== '' && !this.hosts.has(host) && !this.hosts.has(host.toLowerCase())) {
        this.refuse(res, 'host', `the Host ${JSON.stringify(host)} is not a name of this gateway (refused against DNS rebinding): ${this.hostsRule}`);
        return false;
      }
    }
    if (!this.anyOrigin && writes !== false) {
      const origin = req.getHeader('origin');
      if (origin !== '' && !this.origins.has(origin) && !this.ownPage(origin, req) && (writes === true || changesState(req.getMethod()))) {
        this.refuse(
          res,
          'origin',
          `web pages from the origin ${JSON.stringify(origin)} may not open streams or send POST, PUT or DELETE requests to this gateway: ${this.originsRule}`,
        );
        return false;
      }
    }
    return true;
  }

  /**
   * The gateway's own page (`GET /`, the dashboard) is same-origin: its Origin
   * is the Host it was loaded from. Only when the Host check is on, which has
   * already proved that Host one of the gateway's names; with any Host allowed
   * a DNS-rebinding page would be "same-origin" too.
   */
  private ownPage(origin: string, req: HttpRequest): boolean {
    if (this.anyHost) return false;
    const host = req.getHeader('host').toLowerCase();
    return host !== '' && (origin === `http://${host}` || origin === `https://${host}`);
  }

  /** Takes a connection slot for the client of `res`: its address, or null after refusing `busy`. */
  private take(res: HttpResponse): string | null {
    const { maxConnections, maxConnectionsPerAddress } = this.settings;
    if (this.descriptorsLow) {
      this.refuse(
        res,
        'descriptors',
        'the gateway is short of file descriptors (too many connections are open that sent no request yet or sit idle); retry later',
      );
      return null;
    }
    if (this.stats.held >= maxConnections) {
      this.refuse(
        res,
        'connections',
        `the gateway holds its limit of ${maxConnections} connections and requests in flight (limits.maxConnections); retry later`,
      );
      return null;
    }
    const address = clientAddress(res);
    const n = this.perAddress.get(address) ?? 0;
    if (n >= maxConnectionsPerAddress) {
      this.refuse(
        res,
        'address',
        `the address ${readableAddress(address)} holds its limit of ${maxConnectionsPerAddress} connections and requests in flight ` +
          '(limits.maxConnectionsPerAddress); close some or retry later',
      );
      return null;
    }
    const turnsRefusal = this.turns?.refusal(address) ?? null;
    if (turnsRefusal !== null) {
      this.refuse(res, 'share', turnsRefusal);
      return null;
    }
    this.perAddress.set(address, n + 1);
    this.stats.held++;
    return address;
  }

  private refuse(res: HttpResponse, cause: RefusalCause, message: string): void {
    this.turnCounts[TURN_COUNTS.refused]!++;
    this.stats.refused[cause]++;
    this.unlogged[cause]++;
    if (!this.answersRefusal(res)) {
      res.close();
      return;
    }
    const now = Date.now();
    if (now - this.lastLogged[cause] >= LOG_EVERY_MS) {
      const refused = this.unlogged[cause];
      this.lastLogged[cause] = now;
      this.unlogged[cause] = 0;
      this.log.warn(
        { event: 'refused', cause, code: CODE_OF[cause], refused, message },
        `refused ${refused} request${refused === 1 ? '' : 's'} (${cause}) since the last such line: ${message}`,
      );
    }
    refuse(res, CODE_OF[cause], message);
  }

  /** Whether a refusal to this request's address is answered (the first few of each turn) or its connection just closed. */
  private answersRefusal(res: HttpResponse): boolean {
    const turn = this.loopTurns.now();
    if (turn !== this.refusalsTurn) {
      this.refusalsTurn = turn;
      this.refusalsByAddress.clear();
    }
    const address = clientAddress(res);
    const answered = this.refusalsByAddress.get(address) ?? 0;
    if (answered >= ANSWERED_REFUSALS_PER_TURN) return false;
    this.refusalsByAddress.set(address, answered + 1);
    return true;
  }

  /**
   * Gives back the slots of requests whose client went away before the answer
   * (uWS then voids the response, and its handler's own onAborted is the only
   * one it calls), and lets the share forget addresses it is done with.
   */
  private sweep(): void {
    this.turns?.sweep();
    for (const res of this.inFlight.keys()) {
      if (isVoid(res)) this.answered(res);
    }
  }
}

function countByCause(): Record<RefusalCause, number> {
  return Object.fromEntries(REFUSAL_CAUSES.map((cause) => [cause, 0])) as Record<RefusalCause, number>;
}

function changesState(method: string): boolean {
  return method !== 'get' && method !== 'head' && method !== 'options';
}

/** uWS throws on any use of a response that was answered or aborted. */
function isVoid(res: HttpResponse): boolean {
  try {
    res.getWriteOffset();
    return false;
  } catch {
    return true;
  }
}

/** `host:port`, `[v6]:port`, but not a bare `v6` address. */
function hasPort(name: string): boolean {
  return /^(\[[^\]]*\]|[^:[\]]*):\d+$/.test(name);
}

/** The listen address as a Host header writes it; for a wildcard, every address of the machine too. */
function listenNames(host: string): string[] {
  const asHost = (address: string): string => (address.includes(':') ? `[${address}]` : address).toLowerCase();
  const names = [asHost(host)];
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) {
      // Link-local IPv6 addresses need a zone, which a Host header cannot carry usefully.
      for (const info of list ?? []) if (info.scopeid === undefined || info.scopeid === 0) names.push(asHost(info.address));
    }
  }
  return names;
}
