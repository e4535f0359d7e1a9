// Who may use the operator's routes (the lanes, a fleet's handoffs): the
// admin key; in open mode (no admin key) only a client on the gateway's own
// machine (loopback).
import { isLoopback, isRefusal, type Credits } from '../credits/index.js';
import { clientAddress, isLoopbackV6, presentedKey, readableAddress, sendError, type HttpRequest, type HttpResponse } from '../uws/index.js';

/**
 * True for the admin key, or in open mode for a client on this machine; else answers 401/403 (`what` says which routes) and returns false.
 * `key`: the key presented (default: `Authorization: Bearer`; a WebSocket route passes the one offered as a subprotocol).
 */
export function operatorOr403(credits: Credits | null, res: HttpResponse, req: HttpRequest, what: string, key = presentedKey(req, false)): boolean {
  if (credits === null) {
    const address = clientAddress(res);
    if (isLoopback(readableAddress(address)) || isLoopbackV6(address)) return true;
    sendError(res, 'forbidden', `${what} are for the operator: in open mode (no admin key) only clients on the gateway's own machine may use them`);
    return false;
  }
  const principal = credits.authenticate(key);
  if (isRefusal(principal)) {
    sendError(res, principal.code, principal.message);
    return false;
  }
  if (principal.kind === 'admin') return true;
  sendError(res, 'forbidden', `only the admin key may use ${what}`);
  return false;
}
