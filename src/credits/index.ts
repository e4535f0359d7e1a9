// Accounts, keys, chain owners and policies, balances and burns (DESIGN.md
// "Accounts, keys and credits"). The front door holds the book and answers
// from memory; the sealer writes burns with the blocks they paid for; `verify`
// checks supply and burns against the ledger.
export { Credits, type AccountView, type ChainCreditsView, type CreditsOptions, type HistoryHeight, type SharedAccounts } from './credits.js';
export { ADMIN, Bill, CreditBook, CreditChain, type Principal } from './book.js';
export { BurnWriter } from './burn-writer.js';
export { CreditCheck } from './verify.js';
export { ADMIN_KEY_ENV, checkOpenBind, isLoopback, readAdminKey, type AuthSettings } from './admin-key.js';
export { KEY_LENGTH, KEY_PREFIX, KEY_RULE, isId, keyDigest, newId, newKey } from './keys.js';
export { FREE_POLICY, entryCost, policyAt, spanCost, type Audience, type Policy, type PolicyVersion } from './policy.js';
export { isRefusal, refuse, type Refusal } from './refusal.js';
export { chainBookOr, decodeChainBook, decodeChainBooks, encodeChainBook, encodeChainBooks, type ChainBookOf } from './travelling-book.js';
export {
  creditHoldings,
  type AccountRecord,
  type BlockBurns,
  type ChainBookRecords,
  type ChainRecord,
  type CreditHoldings,
  type KeyRecord,
  type PolicyRecord,
} from './store.js';
