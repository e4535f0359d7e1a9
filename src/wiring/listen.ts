// Phase 5: the port. The routes are added to a uWS app (TLS when configured),
// the port is taken exclusively, and from then on the descriptors are watched:
// while they run short the guard refuses new requests, and near the limit the
// gateway stops listening altogether until they are back (defence/descriptors.ts).
import { createServer } from 'node:net';
import type { GatewayConfig } from '../config/index.js';
import { DescriptorWatch, openDescriptors, type ConnectionBounds, type ConnectionGuard } from '../defence/index.js';
import type { Logger } from '../log/index.js';
import { listenExclusive, loadUws, type TemplatedApp, type us_listen_socket } from '../uws/index.js';
import type { StopStack } from './stop-stack.js';

export interface Listening {
  port: number;
  /** Low file descriptors make the guard refuse new connections; null where they cannot be counted. */
  descriptorWatch: DescriptorWatch | null;
  /** Whether the port is listened on now: not while descriptors are nearly gone, nor while taking it again fails. */
  isListening(): boolean;
}

/** Tries at a port the kernel chose (port 0), in case another process takes it between the two listens. */
const CHOSEN_PORT_TRIES = 5;
/** A port that could not be taken again is retried this often. */
const RELISTEN_RETRY_MS = 1_000;

/** A uWS app for the config: with TLS the one port speaks only TLS, and plain HTTP is not served at all. */
export function createApp(tls: { certFile: string; keyFile: string } | null): TemplatedApp {
  const uws = loadUws();
  return tls === null ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
}

export async function listen(
  app: TemplatedApp,
  config: GatewayConfig,
  guard: ConnectionGuard,
  bounds: ConnectionBounds,
  log: Logger,
  stops: StopStack,
): Promise<Listening> {
  const listener = await PortListener.open(app, config.host, config.port);
  stops.push('the listening socket', () => listener.close());
  guard.listening(listener.port);
  const descriptorWatch = watchDescriptors(bounds, guard, listener, log);
  if (descriptorWatch !== null) stops.push('the descriptor watch', () => descriptorWatch.stop());
  return { port: listener.port, descriptorWatch, isListening: () => listener.listening };
}

/** What PortListener.resume tells: the first failed try, and the try that listens. */
interface ResumeEvents {
  failed(error: unknown): void;
  listening(): void;
}

/**
 * The listen socket, which can be closed and taken again while connections
 * accepted on it live. That needs SO_REUSEADDR on the first socket, which the
 * accepted ones inherit, and uSockets sets it only for a port other than 0:
 * for port 0 the port the kernel chose is taken again at once, by number,
 * before any connection is accepted. Still exclusive: Linux lets no two
 * sockets listen on one address even with SO_REUSEADDR.
 */
class PortListener {
  readonly port: number;
  private socket: us_listen_socket | null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly app: TemplatedApp;
  private readonly host: string;

  private constructor(app: TemplatedApp, host: string, port: number, socket: us_listen_socket) {
    this.app = app;
    this.host = host;
    this.port = port;
    this.socket = socket;
  }

  static async open(app: TemplatedApp, host: string, port: number): Promise<PortListener> {
    if (port !== 0) return new PortListener(app, host, port, await listenOnce(app, host, port));
    for (let tries = 1; ; tries++) {
      const first = await listenOnce(app, host, 0);
      const chosen = loadUws().us_socket_local_port(first);
      loadUws().us_listen_socket_close(first);
      try {
        return new PortListener(app, host, chosen, await listenOnce(app, host, chosen));
      } catch (error) {
        if (tries >= CHOSEN_PORT_TRIES) throw error;
      }
    }
  }

  get listening(): boolean {
    return this.socket !== null;
  }

  /** Stops accepting: the kernel refuses new connections (and resets those not yet accepted). */
  pause(): void {
    this.stopRetrying();
    if (this.socket === null) return;
    loadUws().us_listen_socket_close(this.socket);
    this.socket = null;
  }

  /**
   * Listens on the same port again. When it cannot (another process took the
   * port meanwhile) it says why once, and tries again every second until it
   * can or is paused or closed; `listening` runs when it listens, whichever
   * try that is.
   */
  async resume(events: ResumeEvents): Promise<void> {
    this.stopRetrying();
    if (this.socket !== null || this.closed) return;
    try {
      const socket = await listenOnce(this.app, this.host, this.port);
      if (this.closed) return loadUws().us_listen_socket_close(socket);
      this.socket = socket;
      events.listening();
    } catch (error) {
      events.failed(error);
      const quietly: ResumeEvents = { failed: () => undefined, listening: events.listening };
      if (!this.closed) this.retry = setTimeout(() => void this.resume(quietly), RELISTEN_RETRY_MS).unref();
    }
  }

  close(): void {
    this.closed = true;
    this.stopRetrying();
    this.pause();
  }

  private stopRetrying(): void {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
  }
}

/**
 * Listens exclusively: uWS would otherwise share the port (SO_REUSEPORT) with a
 * second gateway, and clients would be spread over both without a word.
 */
function listenOnce(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    listenExclusive(app, host, port, (socket) => {
      if (socket !== false) return resolve(socket);
      void whyCannotListen(host, port).then((why) => reject(new Error(`cannot listen on ${host}:${port}: ${why}`)));
    });
  });
}

/** uWS only says "false"; binding the same address with node:net names the errno (EADDRINUSE, EADDRNOTAVAIL, EACCES…). */
function whyCannotListen(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(`${error.code ?? 'error'}: ${error.message}`));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve('the address could not be bound (it is free now: retry)')));
  });
}

/**
 * Tells the guard while descriptors run low, and stops listening near the
 * limit (defence/descriptors.ts); only where they can be counted (Linux).
 */
function watchDescriptors(bounds: ConnectionBounds, guard: ConnectionGuard, listener: PortListener, log: Logger): DescriptorWatch | null {
  const { descriptorLimit: limit, lowAt, stopListeningAt } = bounds;
  if (limit === null || openDescriptors() === null) return null;
  // Infinity: none was left to count with (EMFILE).
  const shown = (counted: number): number => (Number.isFinite(counted) ? counted : limit);
  const watch = new DescriptorWatch(bounds, {
    low: (counted) => {
      const open = shown(counted);
      guard.descriptorsLow = true;
      log.error(
        { event: 'descriptors-low', openDescriptors: open, limit, lowAt },
        `${open} of ${limit} file descriptors are open, more than the connections counted hold: refusing new connections ` +
          'and requests until idle ones close',
      );
    },
    ok: (open) => {
      guard.descriptorsLow = false;
      log.warn({ event: 'descriptors-ok', openDescriptors: open, limit }, `${open} of ${limit} file descriptors are open: accepting connections again`);
    },
    stopListening: (counted) => {
      const open = shown(counted);
      listener.pause();
      log.error(
        { event: 'listening-stopped', openDescriptors: open, limit, stopListeningAt, port: listener.port },
        `${open} of ${limit} file descriptors are open: stopped listening on port ${listener.port} (new connections are refused by the kernel) ` +
          `until fewer than ${lowAt} are open; sockets that send nothing are closed within ~10 s`,
      );
    },
    listenAgain: (open) => {
      void listener.resume({
        failed: (error) =>
          log.error(
            { event: 'listen-failed', port: listener.port, error: String(error) },
            `could not listen on port ${listener.port} again: ${String(error)}; retrying every ${RELISTEN_RETRY_MS / 1000} s`,
          ),
        listening: () =>
          log.warn(
            { event: 'listening-again', openDescriptors: open, limit, port: listener.port },
            `${open} of ${limit} file descriptors are open: listening on port ${listener.port} again`,
          ),
      });
    },
  });
  watch.start();
  return watch;
}
