// A gateway anchoring to a real anvil node: its key file, its config, and the
// few questions the anchoring tests ask of the gateway and of the node.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { AnchorWindowView } from '../../src/protocol/index.js';
import { ANVIL_KEY, type Anvil } from './anvil.js';
import type { ChildGateway } from './gateway.js';
import { tempDir } from './temp.js';

export const ANCHOR_POLL = { timeout: 20_000, interval: 50 };

/** anvil's first development key in a file only its owner can read. */
export function anchorKeyFile(): string {
  const file = join(tempDir('chainlanes-anchor-key-'), 'anchor.key');
  writeFileSync(file, ANVIL_KEY + '\n');
  chmodSync(file, 0o600);
  return file;
}

/** Quick windows and short back-off; `ethereum` overrides any anchors.ethereum setting. */
export function anchorConfig(rpcUrl: string, key: string, ethereum: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ledger: { blockIntervalMs: 50 },
    anchors: {
      ethereum: { rpcUrl, keyFile: key, everyDirectories: 3, everySeconds: 1, confirmations: 2, pollMs: 50, retryMinMs: 50, retryMaxMs: 400, ...ethereum },
    },
  };
}

/** One POST that answers once committed: its entries make (at least) one directory block of their own. */
export async function writeCommitted(gw: ChildGateway, chain: string, entries: string[]): Promise<{ seq: number }> {
  const response = await gw.http(`/v1/chains/${chain}/entries?wait=committed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(entries),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { seq: number };
}

export async function anchorWindows(gw: ChildGateway): Promise<AnchorWindowView[]> {
  return (await gw.json<{ windows: AnchorWindowView[] }>('/v1/anchors/windows')).windows;
}

/** Mines until the predicate holds of the windows (the node only confirms what it mines). */
export async function mineUntil(gw: ChildGateway, anvil: Anvil, done: (w: AnchorWindowView[]) => boolean): Promise<AnchorWindowView[]> {
  await expect
    .poll(async () => {
      if (done(await anchorWindows(gw))) return true;
      await anvil.mine();
      return false;
    }, ANCHOR_POLL)
    .toBe(true);
  return anchorWindows(gw);
}

/** The anvil account's next nonce, counting its pool ('pending') or only mined transactions ('latest'). */
export async function accountNonce(anvil: Anvil, tag: 'latest' | 'pending'): Promise<number> {
  const address = await anvil.rpc<string[]>('eth_accounts').then((a) => a[0]!);
  return Number(BigInt(await anvil.rpc<string>('eth_getTransactionCount', [address, tag])));
}

/** The base fee of the next block anvil mines: past a transaction's fee cap, anvil drops it from its pool and refuses it. */
export async function setNextBaseFee(anvil: Anvil, wei: bigint): Promise<void> {
  await anvil.rpc('anvil_setNextBlockBaseFeePerGas', [`0x${wei.toString(16)}`]);
}

/** The hashes of the transactions in anvil's pool. */
export async function poolHashes(anvil: Anvil): Promise<string[]> {
  const pool = await anvil.rpc<{ pending: Record<string, Record<string, { hash: string }>> }>('txpool_content');
  return Object.values(pool.pending).flatMap((byNonce) => Object.values(byNonce).map((tx) => tx.hash));
}
