// The front door's uWS types; which build runs, and how the builds differ, is src/uws/.
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from '../uws/index.js';
