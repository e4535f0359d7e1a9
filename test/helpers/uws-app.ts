// A uWS app of this process listening on an ephemeral port of 127.0.0.1, for
// unit tests of what the front door adds to it (the stream route, the guard).
// The listening socket is closed after the test; clients close their own.
import { loadUws, type TemplatedApp, type us_listen_socket } from '../../src/uws/index.js';
import { registerCleanup } from './cleanup.js';

/** Listens and resolves with the port. */
export async function listenApp(app: TemplatedApp): Promise<number> {
  const uws = loadUws();
  const socket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (listening) => (listening === false ? reject(new Error('uWS could not listen on 127.0.0.1')) : resolve(listening)));
  });
  registerCleanup('the uWS listening socket', () => uws.us_listen_socket_close(socket));
  return uws.us_socket_local_port(socket);
}
