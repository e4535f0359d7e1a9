// The chain a route's path names.
import { CHAIN_NAME_RULE, parseChainName } from '../protocol/index.js';
import type { ChainRegistry, ChainState } from '../frontdoor/index.js';
import { sendError, type HttpResponse } from '../uws/index.js';

/** The chain named by a path parameter, or null after answering why not. */
export function chainOr404(chains: ChainRegistry, res: HttpResponse, raw: string | undefined): ChainState | null {
  const name = parseChainName(raw ?? '');
  if (name === null) {
    sendError(res, 'bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`);
    return null;
  }
  const chain = chains.get(name);
  if (chain === undefined) sendError(res, 'unknown_chain', `no chain "${name}"`);
  return chain ?? null;
}
