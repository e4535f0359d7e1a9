// Credits on: before the load starts, a gateway in authenticated mode gets an
// owner, one writer account per chain, each chain created and priced (1 credit
// per entry and 1 per started KiB, only its writer may write), and enough
// credits minted for any run. The load clients then present each chain's
// writer key, so every frame is billed and burned like a customer's.
import type { RunningTarget } from './targets.js';

/** More than any run can burn (a million entries a second for a day is ~2·10^11 credits), and below 2^53. */
const MINT = 1_000_000_000_000_000;

export const BENCH_POLICY = { writePerEntry: 1, writePerKiB: 1, readPerEntry: 0, readers: 'owner', transferable: false } as const;

async function call<T>(base: string, key: string, method: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Provisions `chains` on `target` and returns each chain's writer key. */
export async function provisionCredits(target: Pick<RunningTarget, 'url' | 'adminKey'>, chains: readonly string[]): Promise<Record<string, string>> {
  const admin = target.adminKey;
  if (admin === undefined) return {};
  const base = target.url.replace(/^ws/, 'http');
  const account = (name: string): Promise<{ id: string; key: string }> => call(base, admin, 'POST', '/v1/accounts', { name });
  const owner = await account('bench owner');
  const keys: Record<string, string> = {};
  for (const chain of chains) {
    const writer = await account(`bench writer of ${chain}`);
    await call(base, owner.key, 'POST', '/v1/chains', { name: chain, owner: owner.id });
    await call(base, owner.key, 'PUT', `/v1/chains/${chain}/policy`, { ...BENCH_POLICY, writers: [writer.id] });
    await call(base, owner.key, 'POST', `/v1/chains/${chain}/credits/mint`, { to: writer.id, amount: MINT });
    keys[chain] = writer.key;
  }
  return keys;
}
