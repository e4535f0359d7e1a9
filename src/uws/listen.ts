import type { TemplatedApp, us_listen_socket } from 'uws-20.57';

/** LIBUS_LISTEN_EXCLUSIVE_PORT (uSockets): the bind fails on a port another socket holds, even with SO_REUSEPORT. */
const LISTEN_EXCLUSIVE_PORT = 1;

type ListenWithOptions = (host: string, port: number, options: number, done: (socket: us_listen_socket | false) => void) => TemplatedApp;

/**
 * Listens on host:port exclusively. Both builds take (host, port, options, callback),
 * though their typings list only (port, options, callback).
 */
export function listenExclusive(app: TemplatedApp, host: string, port: number, done: (socket: us_listen_socket | false) => void): void {
  (app.listen as unknown as ListenWithOptions).call(app, host, port, LISTEN_EXCLUSIVE_PORT, done);
}
