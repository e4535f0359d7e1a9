// Anchoring on a network that does not simply mine what it is sent: a base fee
// that jumps past the window's fee cap (anvil then drops the transaction and
// refuses it), an operator's cap on fees, a reorganisation deeper than
// `confirmations` after a window was confirmed, and a kill -9 between a fee bump
// being stored and being sent. Real anvil, real gateway processes.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseGwei } from 'viem';
import { Ledger } from '../../src/ledger/index.js';
import { WindowStore } from '../../src/anchors/window-store.js';
import { verifyAnchor } from '../../src/client/anchor.js';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { TEST_FAULTS_ENV } from '../../src/config/index.js';
import type { AnchorWindowView } from '../../src/protocol/index.js';
import {
  ANCHOR_POLL,
  accountNonce,
  anchorConfig,
  anchorKeyFile,
  anchorWindows,
  freePort,
  mineUntil,
  poolHashes,
  runCli,
  setNextBaseFee,
  startAnvil,
  startGateway,
  writeCommitted,
  type Anvil,
  type ChildGateway,
} from '../helpers/index.js';
import { keepScreenshot, openBrowser } from '../helpers/browser.js';

/** Far above anvil's starting base fee of 1 gwei, and so above the fee cap of a window signed at it. */
const HIGH_BASE_FEE = parseGwei('50');

interface AnchorHealth {
  status: string;
  lastStepAt: number;
  window: { first: number; bumps: number; attempts: number; maxFeePerGasGwei: number; atFeeCap: boolean; refused: string | null } | null;
  bumps: number;
  reorgsAfterConfirmation: number;
  lastWindow: { feeWei: string | null; bumps: number } | null;
  costs: { today: { windows: number; feeWei: string } };
}

async function health(gw: ChildGateway): Promise<AnchorHealth> {
  return (await gw.json<{ anchors: AnchorHealth }>('/healthz')).anchors;
}

async function writeWindow(gw: ChildGateway, chain: string): Promise<AnchorWindowView> {
  for (let i = 0; i < 3; i++) await writeCommitted(gw, chain, [`${chain} entry ${i}`]);
  await expect.poll(async () => (await anchorWindows(gw))[0]?.state, ANCHOR_POLL).toBe('sent');
  return (await anchorWindows(gw))[0]!;
}

/** The base fee jumps past the window's fee cap: anvil drops its transaction at the next block and refuses it after. */
async function raiseBaseFee(anvil: Anvil, window: AnchorWindowView): Promise<void> {
  expect(BigInt(window.attempts[0]!.maxFeePerGas)).toBeLessThan(HIGH_BASE_FEE);
  await setNextBaseFee(anvil, HIGH_BASE_FEE);
  await anvil.mine();
}

/** Which of the window's transactions the node has a receipt for. */
async function landed(anvil: Anvil, window: AnchorWindowView): Promise<string[]> {
  const found: string[] = [];
  for (const { tx } of window.attempts) if ((await anvil.rpc('eth_getTransactionReceipt', [tx])) !== null) found.push(tx);
  return found;
}

async function metric(gw: ChildGateway, name: string): Promise<number> {
  return (await gw.metrics()).value(name);
}

describe('Ethereum anchoring on a real network', () => {
  it('bumps a window the node will not mine at its fee, exactly one of its transactions lands, and the cost is shown', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile(), { bumpAfterSeconds: 1 }) });
    const sent = await writeWindow(gw, 'bumped');
    await raiseBaseFee(anvil, sent);

    await expect.poll(async () => (await anchorWindows(gw))[0]!.bumps, ANCHOR_POLL).toBeGreaterThanOrEqual(1);
    const bumped = (await anchorWindows(gw))[0]!;
    expect(bumped).toMatchObject({ first: sent.first, last: sent.last, nonce: sent.nonce, root: sent.root });
    const [first, ...raised] = bumped.attempts;
    expect(first!.tx).toBe(sent.tx);
    for (const attempt of raised) expect(BigInt(attempt.maxFeePerGas)).toBeGreaterThanOrEqual(HIGH_BASE_FEE);
    await expect.poll(() => gw.logs().filter((l) => l.event === 'anchor-bump').length, ANCHOR_POLL).toBeGreaterThanOrEqual(1);
    await expect.poll(async () => (await health(gw)).window?.bumps, ANCHOR_POLL).toBeGreaterThanOrEqual(1);
    expect((await health(gw)).window!.maxFeePerGasGwei).toBeGreaterThanOrEqual(50);
    expect(await metric(gw, 'chainlanes_anchor_fee_bumps')).toBeGreaterThanOrEqual(1);

    const ws = await mineUntil(gw, anvil, (w) => w[0]?.state === 'confirmed');
    const window = ws[0]!;
    // One nonce, one transaction in a block: the window's, and the account's nonce moved by one per window.
    expect(await landed(anvil, window)).toEqual([window.tx]);
    expect(window.attempts.map((a) => a.tx)).toContain(window.tx);
    expect(window.tx).not.toBe(sent.tx);
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);
    await expect.poll(() => gw.logs().filter((l) => l.event === 'anchor-bump').length, ANCHOR_POLL).toBe(window.bumps);

    // What it cost: the receipt's gas and price, in the window, the sums, /healthz, /metrics and the dashboard's feed.
    const receipt = await anvil.rpc<{ gasUsed: string; effectiveGasPrice: string }>('eth_getTransactionReceipt', [window.tx]);
    expect(window).toMatchObject({ gasUsed: Number(BigInt(receipt.gasUsed)), gasPriceWei: String(BigInt(receipt.effectiveGasPrice)), entries: 3 });
    expect(window.feeWei).toBe(String(BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice)));
    const listing = await gw.json<{ costs: { total: Record<string, unknown>; days: Array<Record<string, unknown>> } }>('/v1/anchors/windows');
    const perMillion = String((BigInt(window.feeWei!) * 1_000_000n) / 3n);
    expect(listing.costs.total).toMatchObject({ windows: 1, gasUsed: window.gasUsed, feeWei: window.feeWei, entries: 3, feeWeiPerMillionEntries: perMillion });
    expect(listing.costs.days).toEqual([
      expect.objectContaining({ day: new Date(window.confirmedAt!).toISOString().slice(0, 10), windows: 1, feeWei: window.feeWei }),
    ]);
    await expect.poll(async () => (await health(gw)).lastWindow?.feeWei, ANCHOR_POLL).toBe(window.feeWei);
    expect(await health(gw)).toMatchObject({
      status: 'ok',
      window: null,
      lastWindow: { bumps: window.bumps },
      costs: { today: { windows: 1, feeWei: window.feeWei } },
    });
    expect(await metric(gw, 'chainlanes_anchor_fees_paid_wei')).toBe(Number(window.feeWei));
    expect(await metric(gw, 'chainlanes_anchor_entries_anchored')).toBe(3);
    const feed = new WebSocket(`ws://127.0.0.1:${gw.port}/v1/dashboard/stream`);
    const [hello] = (await once(feed, 'message')) as [Buffer];
    feed.close();
    expect(JSON.parse(hello.toString())).toMatchObject({ type: 'hello', anchors: { bumps: window.bumps, lastWindow: { feeWei: window.feeWei } } });

    // The page shows them.
    const { page, errors } = await openBrowser();
    await page.goto(`http://127.0.0.1:${gw.port}/`);
    await page.waitForSelector('#anchors dl');
    const shown = await page.textContent('#anchors');
    expect(shown).toContain(`fee bumps${window.bumps}`);
    expect(shown).toMatch(/fee paid, last window[\d.,]+ (ETH|gwei) for directories 0–\d+ \(\d+ gas at [\d.,]+ gwei, after \d+ bumps?\)/);
    expect(shown).toContain('fees per million entries');
    await keepScreenshot(page, 'dashboard-anchors');
    expect(errors).toEqual([]);
  });

  it('never offers more than maxFeePerGasGwei: at the cap it says so and waits, and the window lands once fees fall', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const cap = 10;
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile(), { bumpAfterSeconds: 1, maxFeePerGasGwei: cap }) });
    const sent = await writeWindow(gw, 'capped');
    await raiseBaseFee(anvil, sent);

    await expect.poll(async () => (await health(gw)).status, ANCHOR_POLL).toBe('at-fee-cap');
    const held = await health(gw);
    expect(held.window).toMatchObject({ first: sent.first, atFeeCap: true, maxFeePerGasGwei: cap, refused: expect.stringContaining('base fee') });
    expect(await metric(gw, 'chainlanes_anchor_at_fee_cap')).toBe(1);
    const capLines = gw.logs().filter((l) => l.event === 'anchor-fee-cap');
    expect(capLines).toHaveLength(1);
    expect(capLines[0]!.msg).toContain('maxFeePerGasGwei (10 gwei)');
    const atCap = (await anchorWindows(gw))[0]!;
    for (const attempt of atCap.attempts) expect(BigInt(attempt.maxFeePerGas)).toBeLessThanOrEqual(parseGwei(String(cap)));
    expect(BigInt(atCap.attempts.at(-1)!.maxFeePerGas)).toBe(parseGwei(String(cap)));
    // It waits: two more bump periods of steps at the cap sign nothing more.
    const waitedFrom = (await health(gw)).lastStepAt;
    await expect.poll(async () => (await health(gw)).lastStepAt, ANCHOR_POLL).toBeGreaterThan(waitedFrom + 2_000);
    expect((await anchorWindows(gw))[0]!.attempts).toHaveLength(atCap.attempts.length);
    expect(gw.logs().filter((l) => l.event === 'anchor-fee-cap')).toHaveLength(1);
    expect(await accountNonce(anvil, 'latest')).toBe(0);

    // Fees fall: the node takes the transaction at the cap, and it lands.
    await setNextBaseFee(anvil, parseGwei('1'));
    await anvil.mine();
    const ws = await mineUntil(gw, anvil, (w) => w[0]?.state === 'confirmed');
    expect(ws[0]).toMatchObject({ tx: atCap.attempts.at(-1)!.tx, nonce: sent.nonce });
    expect(ws[0]!.attempts).toHaveLength(atCap.attempts.length);
    expect(BigInt(ws[0]!.gasPriceWei!)).toBeLessThanOrEqual(parseGwei(String(cap)));
    expect(await landed(anvil, ws[0]!)).toEqual([ws[0]!.tx]);
    await expect.poll(async () => (await health(gw)).status, ANCHOR_POLL).toBe('ok');
  });

  it('re-anchors a window whose block a reorganisation deeper than `confirmations` took away after it was confirmed', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile(), { confirmations: 2, watchBlocks: 64 }) });
    await writeWindow(gw, 'deep');
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    const confirmed = (await mineUntil(gw, anvil, (w) => w[0]?.state === 'confirmed'))[0]!;
    // Past confirmation, with more blocks on top than `confirmations`.
    await anvil.mine(3);
    const before = await gw.json<EntryProof>('/v1/chains/deep/entries/0');
    expect(before.anchor).toMatchObject({ tx: confirmed.tx, blockHash: confirmed.blockHash });
    expect(await verifyAnchor(before, anvil.url)).toMatchObject({ ok: true, confirmations: expect.any(Number) });
    expect(((await verifyAnchor(before, anvil.url)) as { confirmations: number }).confirmations).toBeGreaterThan(2);

    // Every block since the snapshot is undone and replaced by a longer chain without the transaction.
    await anvil.rpc('evm_revert', [snapshot]);
    await anvil.rpc('anvil_dropAllTransactions');
    await anvil.mine(6);
    await expect.poll(async () => (await health(gw)).reorgsAfterConfirmation, ANCHOR_POLL).toBe(1);
    expect(await verifyAnchor(before, anvil.url)).toMatchObject({ ok: false });
    const line = gw.logs().find((l) => l.event === 'anchor-reorg');
    expect(line).toMatchObject({ afterConfirmation: true, first: confirmed.first, blockHash: confirmed.blockHash });
    expect(await metric(gw, 'chainlanes_anchor_reorgs_after_confirmation')).toBe(1);

    const ws = await mineUntil(gw, anvil, (w) => w[0]?.state === 'confirmed');
    expect(ws[0]).toMatchObject({ first: confirmed.first, last: confirmed.last, root: confirmed.root, reanchors: 1, nonce: confirmed.nonce });
    expect(ws[0]!.blockHash).not.toBe(confirmed.blockHash);
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);
    // The proof's anchor part follows the window to its new block, and checks against the node again.
    const after = await gw.json<EntryProof>('/v1/chains/deep/entries/0');
    expect(after.anchor).toMatchObject({ tx: ws[0]!.tx, blockNumber: ws[0]!.blockNumber, blockHash: ws[0]!.blockHash });
    expect(verifyEntry(after)).toEqual({ ok: true });
    expect(await verifyAnchor(after, anvil.url)).toMatchObject({ ok: true, blockNumber: ws[0]!.blockNumber });
    const cli = runCli(['verify', '--entry', `http://127.0.0.1:${gw.port}/v1/chains/deep/entries/0`, '--anchors', anvil.url]);
    expect(cli.output).toContain(`anchored by transaction ${ws[0]!.tx} in block ${ws[0]!.blockNumber} (${ws[0]!.blockHash})`);
    expect(cli.status).toBe(0);
    // Counted once: the costs lost the first confirmation when its block went.
    const listing = await gw.json<{ costs: { total: { windows: number; feeWei: string } } }>('/v1/anchors/windows');
    expect(listing.costs.total).toMatchObject({ windows: ws.filter((w) => w.state === 'confirmed').length, feeWei: ws[0]!.feeWei });
  });

  it('loses nothing and sends nothing twice after a kill -9 between a bump being stored and being sent', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const key = anchorKeyFile();
    const gw = await startGateway({
      config: anchorConfig(anvil.url, key, { bumpAfterSeconds: 1 }),
      env: { [TEST_FAULTS_ENV]: JSON.stringify({ killAnchorAfterBumpStored: 1 }) },
    });
    const sent = await writeWindow(gw, 'crashed');
    await raiseBaseFee(anvil, sent);
    await expect.poll(() => gw.process.signalCode, ANCHOR_POLL).toBe('SIGKILL');
    await gw.kill();

    // What the store holds: the bump, durable, and the node has never seen it.
    const stored = await storedLatestWindow(gw.dataDir);
    expect(stored).toMatchObject({ first: sent.first, state: 'signed', nonce: sent.nonce, bumps: 1 });
    expect(stored.attempts).toHaveLength(2);
    const bump = stored.attempts[1]!;
    expect(bump.sentAt).toBeNull();
    expect(await anvil.rpc('eth_getTransactionByHash', [bump.tx])).toBeNull();

    // Restarted (and in no hurry to bump again), it sends that very transaction, and only it.
    const again = await startGateway({ dataDir: gw.dataDir, config: anchorConfig(anvil.url, key, { bumpAfterSeconds: 3600 }) });
    await expect.poll(async () => (await anchorWindows(again))[0]?.state, ANCHOR_POLL).toBe('sent');
    expect(await poolHashes(anvil)).toEqual([bump.tx]);
    const ws = await mineUntil(again, anvil, (w) => w[0]?.state === 'confirmed');
    expect(ws[0]).toMatchObject({ tx: bump.tx, nonce: sent.nonce, bumps: 1 });
    expect(ws[0]!.attempts.map((a) => a.tx)).toEqual(stored.attempts.map((a) => a.tx));
    expect(await landed(anvil, ws[0]!)).toEqual([bump.tx]);
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);
    // Every entry written before the crash is there and anchored.
    for (let seq = 0; seq < 3; seq++) {
      const proof = await again.json<EntryProof>(`/v1/chains/crashed/entries/${seq}`);
      expect(verifyEntry(proof)).toEqual({ ok: true });
      expect(await verifyAnchor(proof, anvil.url)).toMatchObject({ ok: true });
    }
  });
});

/** The newest window as the store holds it (the gateway is not running). */
async function storedLatestWindow(dataDir: string): Promise<ReturnType<WindowStore['latest']> & object> {
  const ledger = await Ledger.open(dataDir, { readOnly: true });
  try {
    const latest = new WindowStore(ledger.environment).latest();
    if (latest === undefined) throw new Error('no anchor window in the store');
    return latest;
  } finally {
    await ledger.close();
  }
}
