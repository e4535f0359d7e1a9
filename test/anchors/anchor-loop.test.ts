// The anchor loop's recovery of a window whose transaction was signed and made
// durable before a crash, against a real anvil node and a real lmdb store.
import { randomBytes } from 'node:crypto';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { AnchorLoop } from '../../src/anchors/anchor-loop.js';
import { EthereumNode } from '../../src/anchors/ethereum.js';
import { encodeAnchorPayload } from '../../src/anchors/payload.js';
import { WindowTree } from '../../src/anchors/window-tree.js';
import { attemptOf } from '../../src/anchors/window-follower.js';
import { WindowStore, type WindowRecord } from '../../src/anchors/window-store.js';
import type { AnchorSettings, AnchorStatus } from '../../src/anchors/types.js';
import type { AnchorView } from '../../src/protocol/index.js';
import { ANVIL_CHAIN_ID, ANVIL_KEY, freePort, registerCleanup, startAnvil, tempDir, type Anvil } from '../helpers/index.js';

const SETTINGS: AnchorSettings = {
  rpcUrl: '',
  everyDirectories: 1000,
  everySeconds: 3600,
  confirmations: 2,
  maxWindowDirectories: 1000,
  pollMs: 20,
  retryMinMs: 20,
  retryMaxMs: 200,
  rpcTimeoutMs: 5000,
  networkId: ANVIL_CHAIN_ID,
  bumpAfterSeconds: 3600,
  bumpPercent: 15,
  maxFeePerGasGwei: 200,
  watchBlocks: 64,
};

/** anvil's second development key. */
const OTHER_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';

interface SetUp {
  anvil: Anvil;
  node: EthereumNode;
  store: WindowStore;
  directories: AnchorView[];
  record: WindowRecord;
  loop: AnchorLoop;
  /** Another loop on the same store and node: the gateway restarted. */
  makeLoop(): AnchorLoop;
  events: string[];
  statuses: AnchorStatus[];
}

async function setUp(
  loopKey: Hex = ANVIL_KEY,
  settings: Partial<AnchorSettings> = {},
  makeNode = (url: string) => new EthereumNode(url, ANVIL_KEY, 5000),
): Promise<SetUp> {
  const anvil = await startAnvil({ port: await freePort(), automine: false });
  const root = open(tempDir(), { noSubdir: false });
  registerCleanup('lmdb', () => root.close());
  const store = new WindowStore(root);
  const directories: AnchorView[] = [0, 1, 2].map((height) => ({ height, hash: randomBytes(32).toString('hex'), sealedAt: 0 }));
  const node = makeNode(anvil.url);
  const gateway = randomBytes(32);
  const tree = new WindowTree(
    0,
    directories.map((d) => Buffer.from(d.hash, 'hex')),
  );
  const payload = encodeAnchorPayload({ first: 0, last: 2, gateway, root: tree.root });
  const fees = await node.fees();
  const gas = await node.gasFor(payload);
  const signed = await node.sign(payload, 0, ANVIL_CHAIN_ID, gas, fees);
  const record: WindowRecord = {
    first: 0,
    last: 2,
    count: 3,
    root: tree.root.toString('hex'),
    state: 'signed',
    network: 'ethereum',
    networkId: ANVIL_CHAIN_ID,
    tx: signed.hash,
    nonce: 0,
    attempts: [attemptOf(signed, gas, fees)],
    from: node.account.address,
    blockNumber: null,
    blockHash: null,
    confirmations: 0,
    reanchors: 0,
    createdAt: Date.now(),
    confirmedAt: null,
    bumps: 0,
    entries: 3,
    gasUsed: null,
    gasPriceWei: null,
    feeWei: null,
  };
  // What a crash right after the durable write and before the send leaves behind.
  await store.put(record);
  const events: string[] = [];
  const statuses: AnchorStatus[] = [];
  const makeLoop = (): AnchorLoop => {
    const loop = new AnchorLoop({
      settings: { ...SETTINGS, ...settings, rpcUrl: anvil.url },
      node: loopKey === ANVIL_KEY ? node : new EthereumNode(anvil.url, loopKey, 5000),
      store,
      gateway,
      directories: (from, limit) => directories.slice(from, from + limit),
      entries: (first, last) => last - first + 1,
      report: (status) => statuses.push(status),
      event: (event) => events.push(event),
    });
    registerCleanup('anchor loop', () => loop.stop());
    return loop;
  };
  return { anvil, node, store, directories, record, loop: makeLoop(), makeLoop, events, statuses };
}

/** A real node whose next receipt lookup first runs `beforeNextReceipt`: a reorganisation timed between two of the loop's reads. */
class NodeWithInterleaving extends EthereumNode {
  beforeNextReceipt: (() => Promise<void>) | null = null;

  override async includedAt(hash: Hex): ReturnType<EthereumNode['includedAt']> {
    const before = this.beforeNextReceipt;
    this.beforeNextReceipt = null;
    if (before !== null) await before();
    return super.includedAt(hash);
  }
}

async function nonce(anvil: Anvil, tag: string): Promise<number> {
  const [address] = await anvil.rpc<string[]>('eth_accounts');
  return Number(BigInt(await anvil.rpc<string>('eth_getTransactionCount', [address, tag])));
}

async function mineUntilConfirmed(anvil: Anvil, store: WindowStore): Promise<WindowRecord> {
  await expect
    .poll(
      async () => {
        if (store.latest()?.state === 'confirmed') return true;
        await anvil.mine();
        return false;
      },
      { timeout: 15_000, interval: 50 },
    )
    .toBe(true);
  return store.latest()!;
}

describe('anchor loop recovery', () => {
  it('sends a signed transaction the node never saw, exactly that one', async () => {
    const { anvil, store, record, loop } = await setUp();
    expect(await anvil.rpc('eth_getTransactionByHash', [record.tx])).toBeNull();
    loop.start();
    await expect.poll(() => store.latest()?.state, { timeout: 10_000, interval: 20 }).toBe('sent');
    expect(await nonce(anvil, 'pending')).toBe(1);
    const confirmed = await mineUntilConfirmed(anvil, store);
    expect(confirmed).toMatchObject({ tx: record.tx, nonce: 0, reanchors: 0 });
    expect(await nonce(anvil, 'latest')).toBe(1);
  });

  it('finds a signed transaction that did reach the node, and sends nothing more', async () => {
    const { anvil, store, record, loop } = await setUp();
    await anvil.rpc('eth_sendRawTransaction', [record.attempts[0]!.raw]);
    loop.start();
    await expect.poll(() => store.latest()?.state, { timeout: 10_000, interval: 20 }).toBe('sent');
    const pool = await anvil.rpc<{ pending: Record<string, Record<string, unknown>> }>('txpool_content');
    expect(Object.values(pool.pending).flatMap((byNonce) => Object.keys(byNonce))).toEqual(['0']);
    const confirmed = await mineUntilConfirmed(anvil, store);
    expect(confirmed.tx).toBe(record.tx);
    expect(await nonce(anvil, 'latest')).toBe(1);
  });

  it('signs again when the recorded nonce went to another transaction, so the window still lands once', async () => {
    const { anvil, store, record, loop, events } = await setUp();
    const [address] = await anvil.rpc<string[]>('eth_accounts');
    await anvil.rpc('eth_sendTransaction', [{ from: address, to: address, value: '0x0' }]);
    await anvil.mine();
    loop.start();
    const confirmed = await mineUntilConfirmed(anvil, store);
    expect(confirmed.tx).not.toBe(record.tx);
    expect(confirmed).toMatchObject({ nonce: 1, first: 0, last: 2, root: record.root });
    expect(events).toContain('anchor-resigned');
    const tx = await anvil.rpc<{ input: Hex }>('eth_getTransactionByHash', [confirmed.tx]);
    expect(tx.input.length).toBe(2 + 83 * 2);
    expect(await anvil.rpc('eth_getTransactionByHash', [record.tx])).toBeNull();
  });

  it("takes whichever of its transactions lands as the window's, an older one than the newest bump included", async () => {
    const { anvil, store, record, loop, makeLoop, events } = await setUp(ANVIL_KEY, { bumpAfterSeconds: 1 });
    loop.start();
    // Not mined, so bumped: the replacement (same nonce, higher fees) takes the first one's place in anvil's pool.
    await expect.poll(() => store.latest()!.attempts.length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => store.latest()!.state, { timeout: 10_000, interval: 20 }).toBe('sent');
    await loop.stop();
    expect(events).toContain('anchor-bump');
    const bumped = store.latest()!;
    expect(BigInt(bumped.attempts[1]!.maxFeePerGas)).toBeGreaterThanOrEqual((BigInt(record.attempts[0]!.maxFeePerGas) * 115n) / 100n);
    expect(BigInt(bumped.attempts[1]!.maxPriorityFeePerGas)).toBeGreaterThanOrEqual((BigInt(record.attempts[0]!.maxPriorityFeePerGas) * 115n) / 100n);
    // Yet the first is the one mined (another node's pool kept it).
    await anvil.rpc('anvil_dropAllTransactions');
    await anvil.rpc('eth_sendRawTransaction', [record.attempts[0]!.raw]);
    await anvil.mine();
    makeLoop().start();
    const confirmed = await mineUntilConfirmed(anvil, store);
    expect(confirmed).toMatchObject({ tx: record.tx, nonce: 0, bumps: bumped.bumps });
    expect(confirmed.attempts.map((a) => a.tx)).toEqual(bumped.attempts.map((a) => a.tx));
    expect(await nonce(anvil, 'latest')).toBe(1);
    const receipt = await anvil.rpc<{ gasUsed: string; effectiveGasPrice: string }>('eth_getTransactionReceipt', [record.tx]);
    expect(confirmed.feeWei).toBe(String(BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice)));
    expect(store.totalCosts()).toEqual({ windows: 1, gasUsed: confirmed.gasUsed, feeWei: confirmed.feeWei, entries: 3 });
  });

  it('follows a window recorded before windows kept several transactions, its fees read from the signed bytes', async () => {
    const { anvil, store, record, loop } = await setUp();
    const { attempts, bumps: _b, entries: _e, gasUsed: _g, gasPriceWei: _p, feeWei: _f, ...old } = record;
    await store.put({ ...old, raw: attempts[0]!.raw } as unknown as WindowRecord);
    expect(store.latest()).toMatchObject({
      tx: record.tx,
      bumps: 0,
      entries: null,
      feeWei: null,
      attempts: [
        {
          tx: record.tx,
          raw: attempts[0]!.raw,
          maxFeePerGas: attempts[0]!.maxFeePerGas,
          maxPriorityFeePerGas: attempts[0]!.maxPriorityFeePerGas,
          gas: attempts[0]!.gas,
          sentAt: null,
        },
      ],
    });
    loop.start();
    const confirmed = await mineUntilConfirmed(anvil, store);
    // Its entries are counted when it is confirmed, and so is its cost.
    expect(confirmed).toMatchObject({ tx: record.tx, entries: 3, feeWei: expect.stringMatching(/^[1-9]\d*$/) });
    expect(store.totalCosts()).toMatchObject({ windows: 1, entries: 3, feeWei: confirmed.feeWei });
  });

  it('takes a reorganisation between its reads for one, not for its nonce taken: the same transaction is sent again', async () => {
    let node: NodeWithInterleaving | null = null;
    const makeNode = (url: string) => (node = new NodeWithInterleaving(url, ANVIL_KEY, 5000));
    const { anvil, store, record, loop, events } = await setUp(ANVIL_KEY, {}, makeNode);
    loop.start();
    await expect.poll(() => store.latest()?.state, { timeout: 10_000, interval: 20 }).toBe('sent');
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    await anvil.mine();
    await expect.poll(() => store.latest()?.state, { timeout: 10_000, interval: 20 }).toBe('included');
    // The loop has read the nonce as used; before it looks the receipt up, the block leaves the chain.
    node!.beforeNextReceipt = async () => {
      await anvil.rpc('evm_revert', [snapshot]);
      await anvil.rpc('anvil_dropAllTransactions');
    };
    await expect.poll(() => store.latest()?.reanchors, { timeout: 10_000, interval: 20 }).toBe(1);
    expect(node!.beforeNextReceipt).toBeNull();
    const confirmed = await mineUntilConfirmed(anvil, store);
    expect(confirmed).toMatchObject({ tx: record.tx, nonce: 0, reanchors: 1 });
    expect(events).toContain('anchor-reorg');
    expect(events).not.toContain('anchor-resigned');
    expect(await nonce(anvil, 'latest')).toBe(1);
  });

  it('will not sign a window again with another key than the one that signed it', async () => {
    const { anvil, store, record, loop, statuses } = await setUp(OTHER_KEY);
    const [address] = await anvil.rpc<string[]>('eth_accounts');
    await anvil.rpc('eth_sendTransaction', [{ from: address, to: address, value: '0x0' }]);
    await anvil.mine();
    loop.start();
    await expect.poll(() => statuses.at(-1)?.lastError ?? '', { timeout: 10_000, interval: 20 }).toContain('restore the old key');
    expect(store.latest()).toMatchObject({ tx: record.tx, state: 'signed' });
    expect(await nonce(anvil, 'pending')).toBe(1);
  });
});
