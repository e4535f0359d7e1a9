// The one uWS type the code is written against: 20.57's (index.ts says where 20.30 differs).
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket, us_socket_context_t } from 'uws-20.57';
