// uWebSockets.js, as the rest of the gateway meets it: the native build loaded
// (a JS shim refused), its types, a request's key and client address, and
// answers written safely (as the client reads them, bodies within bounds).
export { loadUws, type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_listen_socket } from './load.js';
export {
  parseIndex, readBody, refuse, sendBytes, sendError, sendJson, sendText, watchResponse,
  type InboundBudget, type ResponseWatcher,
} from './respond.js';
export { KEY_PROTOCOL_PREFIX, STREAM_PROTOCOL, answeredProtocol, offeredProtocols, presentedKey, presentedStreamKey } from './credentials.js';
export { addressGroup, clientAddress, isLoopbackV6, readableAddress } from './client-address.js';
