// uWebSockets.js, the one way in: which build runs on this machine (load.ts),
// the one type the rest of the code is written against (types.ts), the call
// forms whose typings are wrong (listen.ts), and what the gateway builds on it:
// a request's key and client address, and answers written safely (as the
// client reads them, bodies within bounds). Nothing else imports a uWS package
// (eslint.config.js refuses it).
//
// Two builds are installed (package.json optionalDependencies, under aliases
// named by their uWS version), because no registry build serves all three
// supported Node versions on both C libraries (docs/architecture.md, "Node.js
// versions and uWS builds"):
//   uws-20.57  @btc-vision/uwebsockets.js       Node 20, 22, 24, 25; glibc ≥ 2.38
//   uws-20.30  @trufflesuite/uws-js-unofficial  Node 16, 18, 20;     glibc ≥ 2.27
//
// The type is 20.57's. Where 20.30 differs at run time:
// - getParameter/getQuery(key) give '' where 20.57 gives undefined: the code
//   treats both as absent (`?? ''`), which 20.57's typings enforce.
// - closeOnBackpressureLimit is typed boolean (20.30: number); both builds
//   read `true` as on.
// - 20.57-only, so unused while 20.30 is a build we load: the `dropped`
//   handler, TemplatedApp.filter/close, getParameter by name. 20.30-only, and
//   gone from 20.57: the fragment senders (sendFirstFragment…) and _cfg.
// - Neither has WebSocket pause/resume (fair-share.ts); both have HTTP pause.
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket, us_socket_context_t } from './types.js';
export type { Uws } from './load.js';
export { UWS_BUILDS, UWS_BUILD_ENV, chooseUws, loadUws, runningUws, type UwsAttempt, type UwsBuild, type UwsChoice } from './load.js';
export { listenExclusive } from './listen.js';
export { parseIndex, readBody, refuse, sendBytes, sendError, sendJson, sendText, watchResponse, type InboundBudget, type ResponseWatcher } from './respond.js';
export { KEY_PROTOCOL_PREFIX, STREAM_PROTOCOL, answeredProtocol, offeredProtocols, presentedKey, presentedStreamKey } from './credentials.js';
export { addressGroup, clientAddress, isLoopbackV6, readableAddress } from './client-address.js';
