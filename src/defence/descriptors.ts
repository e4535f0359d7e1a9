// File descriptors: how many the process may hold, how many it holds, and the
// bounds on connections that keep it away from the limit.
//
// uWS accepts sockets itself, and its accept loop has nothing for running out
// of descriptors: at EMFILE accept() fails, the listen socket stays readable,
// and the event loop spins at a full core while accepting nothing, so new
// connections and /healthz time out (measured with uWebSockets.js 20.30: 100 %
// of a core with `ulimit -n 256` and 400 idle sockets, for the ~10 s uWS takes
// to close them). uWS.js has no accept hook; what it has is closing its listen
// socket and listening again (wiring/listen.ts makes sure the port can be
// taken again while connections accepted on it live). So the gateway keeps
// away from the limit, and stops listening when it gets there anyway:
//
// - the connection guard (guard.ts) counts what it can see (WebSocket
//   connections, HTTP requests in flight) and keeps that count a reserve
//   below the limit, refusing past it at once (`busy`, connection closed);
// - the reserve absorbs what the guard cannot see: sockets connected that have
//   sent no request yet, and idle keep-alive connections, both closed by uWS
//   after about 10 s;
// - the descriptor watch below counts every open descriptor; when half the
//   reserve is used up anyway, the guard refuses new connections and requests
//   (closing their connections) until descriptors are back;
// - a flood of sockets that connect and send nothing, faster than the reserve
//   over uWS's 10 s timeout, reaches EMFILE before any code of the gateway
//   runs: when three quarters of the reserve are gone (or a descriptor cannot
//   be opened at all) the gateway stops listening, so the kernel refuses new
//   connections instead of uWS spinning on them, and listens again once
//   descriptors are back below the low mark. While it does not listen nothing
//   new gets in, /healthz included; what holds the descriptors is uWS's to
//   close, which it does for sockets that send nothing within ~10 s.
//
// A bound outside the process (a firewall's per-address connection limit, or
// a proxy in front) keeps such a flood from ever reaching the gateway.
import { closeSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';

/**
 * Descriptors kept out of the connections' reach: for the store, threads that
 * restart, logs, sockets connected but not yet counted. 10 %, at least 64.
 */
export function descriptorReserve(limit: number): number {
  return Math.max(64, Math.ceil(limit / 10));
}

/** When the limit cannot be read (not Linux): the most common default soft limit. */
const ASSUMED_DESCRIPTOR_LIMIT = 1024;

/**
 * The soft RLIMIT_NOFILE of this process, from /proc/self/limits (Node has no
 * getrlimit; it raises the soft limit to the hard one at start, so this is
 * the hard limit the process was started with). Null when it cannot be read,
 * or is unlimited.
 */
export function descriptorLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const soft = /^Max open files\s+(\d+)\s/m.exec(text)?.[1];
  return soft === undefined ? null : Number(soft);
}

/**
 * Descriptors open in this process now; Infinity when none is left to look
 * (EMFILE). Null off Linux. Since Linux 6.2 the size of /proc/self/fd is the
 * count, one stat (µs); before, it is 0 and the directory is listed, which
 * takes milliseconds with thousands of connections (6,000: 6–12 ms here).
 */
export function openDescriptors(): number | null {
  try {
    const counted = statSync('/proc/self/fd').size;
    if (counted > 0) return counted;
    // The listing itself holds one descriptor while it runs.
    return readdirSync('/proc/self/fd').length - 1;
  } catch (error) {
    if (isOutOfDescriptors(error)) return Infinity;
    return null;
  }
}

/**
 * The lowest free descriptor number, a lower bound on how many are open (the
 * kernel hands out the lowest free one, so all below it are taken); Infinity
 * at EMFILE. Two system calls: cheap enough to run often, unlike a listing.
 */
function lowestFreeDescriptor(): number {
  let fd: number;
  try {
    fd = openSync('/dev/null', 'r');
  } catch (error) {
    if (isOutOfDescriptors(error)) return Infinity;
    throw error;
  }
  closeSync(fd);
  return fd;
}

function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** The connection limits in force: the configured ones, or those derived from the descriptor limit. */
export interface ConnectionBounds {
  /** WebSocket connections and HTTP requests in flight, together. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** The soft descriptor limit, or null when it could not be read (then no watch runs). */
  descriptorLimit: number | null;
  /** Descriptors open when the bounds were set (store, threads, logs). */
  descriptorsInUse: number;
  /** From this many open descriptors on, descriptors are low (DescriptorWatch)… */
  lowAt: number;
  /** …until fewer than this many are open. */
  okBelow: number;
  /** From this many open on, the gateway stops listening, until fewer than `lowAt` are open. */
  stopListeningAt: number;
}

export interface ConnectionSettings {
  maxConnections: number | null;
  maxConnectionsPerAddress: number | null;
}

/**
 * The bounds for `settings` under this descriptor limit, or the problems that
 * forbid them. Derived, `maxConnections` is the limit less what is in use and
 * the reserve; `maxConnectionsPerAddress` half of that, so one address cannot
 * take every connection. A configured `maxConnections` above what the limit
 * allows is refused: the gateway would spin at EMFILE long before reaching it.
 */
export function connectionBounds(settings: ConnectionSettings, limit: number | null, inUse: number): ConnectionBounds | string[] {
  const known = limit ?? ASSUMED_DESCRIPTOR_LIMIT;
  const reserve = descriptorReserve(known);
  const room = known - inUse - reserve;
  const raise = 'raise the limit (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=)';
  if (limit !== null && room < 1) {
    return [`the file-descriptor limit of ${limit} leaves no room for connections: ${inUse} are in use and ${reserve} are kept in reserve; ${raise}`];
  }
  if (limit !== null && settings.maxConnections !== null && settings.maxConnections > room) {
    return [
      `limits.maxConnections: ${settings.maxConnections} is more than the file-descriptor limit allows: ` +
        `of ${limit} descriptors, ${inUse} are in use and ${reserve} are kept in reserve, so at most ${room}; ${raise}, or lower limits.maxConnections`,
    ];
  }
  const maxConnections = settings.maxConnections ?? Math.max(1, room);
  return {
    maxConnections,
    maxConnectionsPerAddress: settings.maxConnectionsPerAddress ?? Math.max(1, Math.floor(maxConnections / 2)),
    descriptorLimit: limit,
    descriptorsInUse: inUse,
    // With every connection slot taken, about `known - reserve` are open: well
    // below `okBelow`, so connections the guard counts never make descriptors
    // low on their own. The last half of the reserve stays for the store,
    // threads and logs.
    lowAt: known - Math.floor(reserve / 2),
    okBelow: known - Math.floor((reserve * 3) / 4),
    stopListeningAt: known - Math.floor(reserve / 4),
  };
}

export interface DescriptorWatchEvents {
  /** Descriptors run low: `open` are open, at least `lowAt`. */
  low(open: number): void;
  /** Below `okBelow` again. */
  ok(open: number): void;
  /** At `stopListeningAt` or past it (Infinity: none could be opened): stop accepting connections. */
  stopListening(open: number): void;
  /** Below `lowAt` again: accept connections again. */
  listenAgain(open: number): void;
}

/**
 * How often the watch looks. The guard's connection bound keeps its own
 * reserve below the limit, so the watch only catches descriptors the guard
 * does not count; 4 looks a second and not 10, as every look wakes a quiet
 * front door (bench/history/2026-12-03.md, "A quiet gateway").
 */
const DESCRIPTOR_WATCH_MS = 250;
/**
 * While descriptors are low it looks this often, with the two system calls
 * only: uWS spins at EMFILE until the listen socket closes, so the time from
 * the limit to the close is what a flood of idle sockets costs a core.
 */
const LOW_WATCH_MS = 20;

/**
 * Tells when descriptors run low, counting every open descriptor, also the
 * sockets the guard cannot see, and when to stop and start listening. Each
 * look costs two system calls (the lowest free descriptor); a listing of
 * /proc/self/fd runs only when that number comes near, or every 250 ms while
 * descriptors are low. Descriptors freed out of order leave holes below the
 * count, so the lowest free one can lag behind a burst by up to one look; at
 * EMFILE nothing can be opened at all, which is read as the limit.
 */
export class DescriptorWatch {
  /** Times descriptors ran low, and times the gateway stopped listening. */
  episodes = 0;
  listenStops = 0;
  private lowNow = false;
  private notListening = false;
  private timer: NodeJS.Timeout | null = null;
  private looks = 0;
  private readonly bounds: Pick<ConnectionBounds, 'lowAt' | 'okBelow' | 'stopListeningAt'>;
  private readonly events: DescriptorWatchEvents;
  private readonly intervalMs: number;
  private readonly lowIntervalMs: number;

  constructor(
    bounds: Pick<ConnectionBounds, 'lowAt' | 'okBelow' | 'stopListeningAt'>,
    events: DescriptorWatchEvents,
    intervalMs = DESCRIPTOR_WATCH_MS,
    lowIntervalMs = LOW_WATCH_MS,
  ) {
    this.bounds = bounds;
    this.events = events;
    this.intervalMs = intervalMs;
    this.lowIntervalMs = Math.min(lowIntervalMs, intervalMs);
  }

  get low(): boolean {
    return this.lowNow;
  }

  /** Whether the watch has the gateway not listening now. */
  get listening(): boolean {
    return !this.notListening;
  }

  start(): void {
    if (this.timer === null) this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        this.tick();
        if (this.timer !== null) this.schedule();
      },
      this.lowNow ? this.lowIntervalMs : this.intervalMs,
    ).unref();
  }

  private tick(): void {
    const { lowAt, okBelow, stopListeningAt } = this.bounds;
    if (!this.lowNow) {
      if (lowestFreeDescriptor() < okBelow) return;
      const open = openDescriptors() ?? 0;
      if (open < lowAt) return;
      this.lowNow = true;
      this.looks = 0;
      this.episodes++;
      this.events.low(open);
      this.watchListening(open);
      return;
    }
    // Fast looks while low: the lowest free descriptor only, a full count every 250 ms' worth.
    const lowest = lowestFreeDescriptor();
    if (!this.notListening && lowest >= stopListeningAt) return this.watchListening(lowest);
    if (++this.looks * this.lowIntervalMs < this.intervalMs) return;
    this.looks = 0;
    const open = openDescriptors() ?? 0;
    this.watchListening(open);
    if (open >= okBelow) return;
    this.lowNow = false;
    this.events.ok(open);
  }

  private watchListening(open: number): void {
    const { lowAt, stopListeningAt } = this.bounds;
    if (!this.notListening && open >= stopListeningAt) {
      this.notListening = true;
      this.listenStops++;
      this.events.stopListening(open);
    } else if (this.notListening && open < lowAt) {
      this.notListening = false;
      this.events.listenAgain(open);
    }
  }
}
