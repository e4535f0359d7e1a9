// uWebSockets.js comes from a re-published package that silently swaps in a
// pure-JS `ws` shim when its native binary fails to load. The shim is neither
// fast nor the same server, so the gateway refuses to start on it.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';

export function loadUws(): typeof UWS {
  const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS;
  if (!Function.prototype.toString.call(uws.App).includes('[native code]')) {
    throw new Error(
      'uWebSockets.js loaded its pure-JS fallback, not its native binary (see the warning above). ' +
      `chainlanes needs the native build for Node ${process.versions.node} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}; ` +
      'reinstall with `npm ci`, and do not set UWS_USE_FALLBACK.',
    );
  }
  return uws;
}
