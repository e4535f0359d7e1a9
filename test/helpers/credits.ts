// A gateway in authenticated mode and a small client for its credit routes:
// accounts, chains, policies and credits in one call each.
import WebSocket from 'ws';
import { newKey } from '../../src/credits/index.js';
import { registerCleanup } from './cleanup.js';
import { startGateway, type ChildGateway, type StartOptions } from './gateway.js';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface Account {
  id: string;
  key: string;
}

export interface CreditGateway extends ChildGateway {
  adminKey: string;
  /** An HTTP call with `key` as Bearer credential and `body` as JSON; the answer parsed. */
  call<T = Record<string, unknown>>(method: string, path: string, key: string | null, body?: unknown): Promise<Answer<T>>;
  account(name: string): Promise<Account>;
  /** A chain owned by `owner`, priced by `policy` (defaults: free, owner writes and reads). */
  chain(name: string, owner: Account, policy?: Partial<PolicyBody>): Promise<void>;
  mint(chain: string, owner: Account, to: Account, amount: number): Promise<void>;
  balance(chain: string, account: Account): Promise<number>;
}

export interface PolicyBody {
  writePerEntry: number;
  writePerKiB: number;
  readPerEntry: number;
  writers: 'owner' | 'any' | string[];
  readers: 'owner' | 'any' | string[];
  transferable: boolean;
}

const FREE: PolicyBody = { writePerEntry: 0, writePerKiB: 0, readPerEntry: 0, writers: 'owner', readers: 'owner', transferable: false };

/** Starts a gateway with a fresh admin key (CHAINLANES_ADMIN_KEY), or the given one. */
export async function startCreditGateway(options: StartOptions & { adminKey?: string } = {}): Promise<CreditGateway> {
  const adminKey = options.adminKey ?? newKey();
  const gw = await startGateway({ ...options, env: { ...options.env, CHAINLANES_ADMIN_KEY: adminKey } });
  const call = async <T>(method: string, path: string, key: string | null, body?: unknown): Promise<Answer<T>> => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await gw.http(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  };
  const expectOk = <T>(answer: Answer<T>, what: string): T => {
    if (answer.status >= 300) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  return {
    ...gw,
    adminKey,
    call,
    account: async (name) => expectOk(await call<Account>('POST', '/v1/accounts', adminKey, { name }), `account ${name}`),
    chain: async (name, owner, policy) => {
      expectOk(await call('POST', '/v1/chains', owner.key, { name, owner: owner.id }), `chain ${name}`);
      if (policy !== undefined) expectOk(await call('PUT', `/v1/chains/${name}/policy`, owner.key, { ...FREE, ...policy }), `policy of ${name}`);
    },
    mint: async (chain, owner, to, amount) => {
      expectOk(await call('POST', `/v1/chains/${chain}/credits/mint`, owner.key, { to: to.id, amount }), `mint on ${chain}`);
    },
    balance: async (chain, account) =>
      expectOk(await call<{ balance: number }>('GET', `/v1/chains/${chain}/credits/${account.id}`, account.key), 'balance').balance,
  };
}

/**
 * The HTTP status of a WebSocket upgrade to `chain`'s stream (101 when it
 * opened, with the subprotocol the gateway answered), with its error body if refused.
 */
export function upgradeAnswer(
  port: number,
  chain: string,
  auth: { header?: string; query?: string; protocols?: string[] } = {},
): Promise<{ status: number; body: string; protocol?: string }> {
  const query = auth.query === undefined ? '' : `?key=${encodeURIComponent(auth.query)}`;
  const headers = auth.header === undefined ? undefined : { authorization: auth.header };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/chains/${chain}/stream${query}`, auth.protocols ?? [], { headers });
  registerCleanup(`WebSocket to ${chain}`, () => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '', protocol: ws.protocol });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (error) => reject(error));
  });
}
