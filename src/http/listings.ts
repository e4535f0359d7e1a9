// Who sees which chains (docs/protocol.md §6.4): in open mode everyone sees
// every chain; in authenticated mode listings answer only to a key, showing an
// account the chains it owns and the admin all, unless the operator made them
// public (auth.publicListings). One chain's state is shown to the admin, its
// owner, and the accounts its policy lets write or read it.
import { isRefusal, type CreditBook } from '../credits/index.js';
import { presentedKey } from '../uws/index.js';
import { sendError } from '../uws/index.js';
import type { HttpRequest, HttpResponse } from '../uws/index.js';

/** Whether a chain, by name, is shown to the one asking. */
export type ChainFilter = (chainName: string) => boolean;

export const EVERY_CHAIN: ChainFilter = () => true;

export interface ListingRules {
  /** The book of credits in authenticated mode, null in open mode. */
  credits: CreditBook | null;
  publicListings: boolean;
}

/** The chains a listing shows to this request, or null after answering 401. */
export function listedOr401(rules: ListingRules, res: HttpResponse, req: HttpRequest): ChainFilter | null {
  if (rules.credits === null || rules.publicListings) return EVERY_CHAIN;
  const principal = rules.credits.authenticate(presentedKey(req, false));
  if (!isRefusal(principal)) return rules.credits.listedFor(principal);
  sendError(res, principal.code, principal.message);
  return null;
}

/** Whether this request may see chain `name`'s state; false after answering 401 or 403. */
export function inspectableOr403(rules: ListingRules, res: HttpResponse, req: HttpRequest, name: string): boolean {
  if (rules.credits === null || rules.publicListings) return true;
  const principal = rules.credits.authenticate(presentedKey(req, false));
  if (isRefusal(principal)) {
    sendError(res, principal.code, principal.message);
    return false;
  }
  if (rules.credits.mayInspect(name, principal)) return true;
  sendError(res, 'forbidden', `only the admin, its owner and the accounts its policy lets write or read it see chain "${name}"`);
  return false;
}
