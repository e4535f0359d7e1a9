// Phase 5: the port. The routes are added to a uWS app (TLS when configured),
// the port is taken exclusively, and from then on the descriptors are watched.
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
}

/** A uWS app for the config: with TLS the one port speaks only TLS, and plain HTTP is not served at all. */
export function createApp(tls: { certFile: string; keyFile: string } | null): TemplatedApp {
  const uws = loadUws();
  return tls === null ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
}

export async function listen(app: TemplatedApp, config: GatewayConfig, guard: ConnectionGuard, bounds: ConnectionBounds, log: Logger, stops: StopStack): Promise<Listening> {
  const socket = await listenOnce(app, config.host, config.port);
  stops.push('the listening socket', () => loadUws().us_listen_socket_close(socket));
  const port = loadUws().us_socket_local_port(socket);
  guard.listening(port);
  const descriptorWatch = watchDescriptors(bounds, guard, log);
  if (descriptorWatch !== null) stops.push('the descriptor watch', () => descriptorWatch.stop());
  return { port, descriptorWatch };
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

/** Tells the guard while descriptors run low (defence/descriptors.ts); only where they can be counted (Linux). */
function watchDescriptors(bounds: ConnectionBounds, guard: ConnectionGuard, log: Logger): DescriptorWatch | null {
  const { descriptorLimit: limit, lowAt } = bounds;
  if (limit === null || openDescriptors() === null) return null;
  const watch = new DescriptorWatch(bounds, {
    low: (counted) => {
      // Infinity: none was left to count with (EMFILE).
      const open = Number.isFinite(counted) ? counted : limit;
      guard.descriptorsLow = true;
      log.error({ event: 'descriptors-low', openDescriptors: open, limit, lowAt },
        `${open} of ${limit} file descriptors are open, more than the connections counted hold: refusing new connections ` +
        'and requests until idle ones close');
    },
    ok: (open) => {
      guard.descriptorsLow = false;
      log.warn({ event: 'descriptors-ok', openDescriptors: open, limit }, `${open} of ${limit} file descriptors are open: accepting connections again`);
    },
  });
  watch.start();
  return watch;
}
