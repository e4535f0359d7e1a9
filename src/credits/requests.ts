// The JSON bodies of the credit routes (docs/protocol.md §6.10–6.13), checked
// field by field: a refusal is `bad_request` naming the field, what it allows
// and what it got, so a client can fix the request from the message alone.
import { CHAIN_NAME_RULE, isChainName } from '../protocol/index.js';
import { isId } from './keys.js';
import type { Audience, Policy } from './policy.js';
import { isRefusal, refuse, type Refusal } from './refusal.js';

export const MAX_ACCOUNT_NAME_CHARS = 128;

export interface AccountRequest {
  name: string;
}

export interface ChainRequest {
  name: string;
  owner: string;
}

export interface AmountRequest {
  to: string;
  amount: number;
}

type Fields = Record<string, unknown>;

/** A JSON object with exactly the named fields, or a refusal naming the first that is missing or unknown. */
function fields(body: unknown, names: readonly string[]): Fields | Refusal {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return refuse('bad_request', `the body must be a JSON object with ${names.join(', ')}`);
  }
  const object = body as Fields;
  const unknown = Object.keys(object).find((key) => !names.includes(key));
  if (unknown !== undefined) return refuse('bad_request', `${unknown}: unknown field; the body takes ${names.join(', ')}`);
  const missing = names.find((name) => !(name in object));
  if (missing !== undefined) return refuse('bad_request', `${missing}: missing; the body takes ${names.join(', ')}`);
  return object;
}

function got(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function bad(field: string, allowed: string, value: unknown): Refusal {
  return refuse('bad_request', `${field}: expected ${allowed}, got ${got(value)}`);
}

/** A whole number of credits, 1 … 2^53 − 1: no zero, sign, fraction, string or rounding. */
export function amountOr(field: string, value: unknown): number | Refusal {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    return bad(field, `a whole number of credits from 1 to ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

/** A price: a whole number of credits, 0 … 2^53 − 1. */
function priceOr(field: string, value: unknown): number | Refusal {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return bad(field, `a whole number of credits from 0 to ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

function accountIdOr(field: string, value: unknown): string | Refusal {
  if (typeof value !== 'string' || !isId('acct_', value)) return bad(field, 'an account id (acct_ and 16 characters of a-z 2-7)', value);
  return value;
}

function audienceOr(field: string, value: unknown): Audience | Refusal {
  if (value === 'owner' || value === 'any') return value;
  if (!Array.isArray(value)) return bad(field, '"owner", "any" or a list of account ids', value);
  const accounts: string[] = [];
  for (const [i, item] of value.entries()) {
    const account = accountIdOr(`${field}[${i}]`, item);
    if (isRefusal(account)) return account;
    if (!accounts.includes(account)) accounts.push(account);
  }
  return accounts;
}

export function accountRequestOr(body: unknown): AccountRequest | Refusal {
  const f = fields(body, ['name']);
  if (isRefusal(f)) return f;
  const name = f.name;
  // eslint-disable-next-line no-control-regex
  if (typeof name !== 'string' || name.length < 1 || name.length > MAX_ACCOUNT_NAME_CHARS || /[\u0000-\u001f\u007f]/.test(name)) {
    return bad('name', `a string of 1 to ${MAX_ACCOUNT_NAME_CHARS} characters without control characters`, name);
  }
  return { name };
}

/** The longest a key may be given to live: keys that should not expire say so by omitting expiresAt. */
const MAX_KEY_LIFETIME_MS = 100 * 365 * 24 * 3600 * 1000;

/** `POST /v1/accounts/{id}/keys`: no body, `{}`, or `{expiresAt}` (ms since the epoch, in the future). */
export function keyRequestOr(body: unknown, now: number): { expiresAt: number | null } | Refusal {
  if (body === undefined) return { expiresAt: null };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse('bad_request', 'the body must be empty or a JSON object with expiresAt');
  const object = body as Fields;
  const unknown = Object.keys(object).find((key) => key !== 'expiresAt');
  if (unknown !== undefined) return refuse('bad_request', `${unknown}: unknown field; the body takes expiresAt`);
  const expiresAt = object.expiresAt;
  if (expiresAt === undefined || expiresAt === null) return { expiresAt: null };
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= now || expiresAt > now + MAX_KEY_LIFETIME_MS) {
    return bad('expiresAt', 'a time in the future as milliseconds since 1970 (at most 100 years ahead), or null for never', expiresAt);
  }
  return { expiresAt };
}

export function chainRequestOr(body: unknown): ChainRequest | Refusal {
  const f = fields(body, ['name', 'owner']);
  if (isRefusal(f)) return f;
  if (typeof f.name !== 'string' || !isChainName(f.name)) return bad('name', CHAIN_NAME_RULE.replace(/^a chain name is /, ''), f.name);
  const owner = accountIdOr('owner', f.owner);
  if (isRefusal(owner)) return owner;
  return { name: f.name, owner };
}

export function amountRequestOr(body: unknown): AmountRequest | Refusal {
  const f = fields(body, ['to', 'amount']);
  if (isRefusal(f)) return f;
  const to = accountIdOr('to', f.to);
  if (isRefusal(to)) return to;
  const amount = amountOr('amount', f.amount);
  if (isRefusal(amount)) return amount;
  return { to, amount };
}

const POLICY_FIELDS = ['writePerEntry', 'writePerKiB', 'readPerEntry', 'writers', 'readers', 'transferable'] as const;

export function policyRequestOr(body: unknown): Policy | Refusal {
  const f = fields(body, POLICY_FIELDS);
  if (isRefusal(f)) return f;
  const writePerEntry = priceOr('writePerEntry', f.writePerEntry);
  if (isRefusal(writePerEntry)) return writePerEntry;
  const writePerKiB = priceOr('writePerKiB', f.writePerKiB);
  if (isRefusal(writePerKiB)) return writePerKiB;
  const readPerEntry = priceOr('readPerEntry', f.readPerEntry);
  if (isRefusal(readPerEntry)) return readPerEntry;
  const writers = audienceOr('writers', f.writers);
  if (isRefusal(writers)) return writers;
  const readers = audienceOr('readers', f.readers);
  if (isRefusal(readers)) return readers;
  if (typeof f.transferable !== 'boolean') return bad('transferable', 'true or false', f.transferable);
  return { writePerEntry, writePerKiB, readPerEntry, writers, readers, transferable: f.transferable };
}
