// Anchoring to a real Ethereum node: anvil (npm @foundry-rs/anvil) on loopback,
// a real gateway process, real transactions. No JSON-RPC is mocked.
import { chmodSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import WebSocket from 'ws';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { anchorPayload, verifyAnchor } from '../../src/client/anchor.js';
import type { AnchorWindowView } from '../../src/protocol/index.js';
import {
  ANCHOR_POLL,
  ANVIL_CHAIN_ID,
  accountNonce,
  anchorConfig,
  anchorKeyFile,
  anchorWindows,
  freePort,
  mineUntil,
  runCli,
  startAnvil,
  startGateway,
  tempDir,
  writeCommitted,
} from '../helpers/index.js';

const confirmedThrough = (height: number) => (ws: AnchorWindowView[]) => ws.some((w) => w.state === 'confirmed' && w.last >= height);

describe('Ethereum anchoring', () => {
  it('anchors a window of directory hashes, confirms it, and proves an entry up to its transaction', async () => {
    const anvil = await startAnvil({ port: await freePort() });
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile()) });
    const { seq } = await writeCommitted(gw, 'anchored', ['first']);
    await writeCommitted(gw, 'anchored', ['second']);
    await writeCommitted(gw, 'anchored', ['third']);
    const proofBefore = await gw.json<EntryProof & Record<string, unknown>>(`/v1/chains/anchored/entries/${seq}`);
    const directory = proofBefore.directory!.height;
    // Nothing mines but the window's own transaction (automine), so it cannot have its 2 confirmations yet.
    expect(proofBefore.anchor).toBeUndefined();

    const ws = await mineUntil(gw, anvil, confirmedThrough(directory));
    const window = ws.find((w) => w.first <= directory && w.last >= directory)!;
    expect(window).toMatchObject({ state: 'confirmed', network: 'ethereum', networkId: ANVIL_CHAIN_ID, first: 0, reanchors: 0 });
    expect(window.confirmations).toBeGreaterThanOrEqual(2);

    // The transaction on the node carries exactly the 83-byte payload.
    const tx = await anvil.rpc<{ input: string; blockHash: string }>('eth_getTransactionByHash', [window.tx]);
    expect(tx.blockHash).toBe(window.blockHash);
    const proof = await gw.json<EntryProof>(`/v1/chains/anchored/entries/${seq}`);
    expect(proof.anchor).toBeDefined();
    expect(proof.anchor!.tx).toBe(window.tx);
    expect(Buffer.from(tx.input.slice(2), 'hex')).toEqual(Buffer.from(anchorPayload(proof.anchor!)));
    expect(tx.input.length).toBe(2 + 83 * 2);
    // One transaction per window, never more.
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);

    expect(verifyEntry(proof)).toEqual({ ok: true });
    const onChain = await verifyAnchor(proof, anvil.url);
    expect(onChain).toMatchObject({ ok: true, networkId: ANVIL_CHAIN_ID, blockNumber: window.blockNumber });

    // Tampering with the window root breaks the offline check; a wrong tx breaks the on-chain one.
    const badRoot = structuredClone(proof);
    badRoot.anchor!.window.root = 'ff' + badRoot.anchor!.window.root.slice(2);
    expect(verifyEntry(badRoot)).toMatchObject({ ok: false, reason: 'anchor window path does not reproduce the window root' });
    const badTx = structuredClone(proof);
    badTx.anchor!.tx = '0x' + '11'.repeat(32);
    expect(await verifyAnchor(badTx, anvil.url)).toMatchObject({ ok: false });

    // The CLI, from the gateway's URL up to the transaction.
    const cli = runCli(['verify', '--entry', `http://127.0.0.1:${gw.port}/v1/chains/anchored/entries/${seq}`, '--anchors', anvil.url]);
    expect(cli.output).toContain(`anchored by transaction ${window.tx}`);
    expect(cli.status).toBe(0);
    const proofFile = join(tempDir(), 'proof.json');
    writeFileSync(proofFile, JSON.stringify(badTx));
    const refused = runCli(['verify', '--entry', proofFile, '--anchors', anvil.url]);
    expect(refused.status).toBe(1);
    expect(refused.output).toContain('BROKEN');

    // The listing of store anchors gains the windows; /healthz and /metrics show the anchoring.
    const listing = await gw.json<{ anchors: unknown[]; windows: AnchorWindowView[] }>('/v1/anchors');
    expect(listing.anchors.length).toBeGreaterThanOrEqual(3);
    expect(listing.windows[0]).toMatchObject({ first: 0, tx: ws[0]!.tx });
    const health = await gw.json<{ anchors: Record<string, unknown> }>('/healthz');
    expect(health.anchors).toMatchObject({ status: 'ok', networkId: ANVIL_CHAIN_ID });
    expect(health.anchors.anchoredHeight as number).toBeGreaterThanOrEqual(directory);
    expect((await gw.metrics()).value('chainlanes_anchor_backlog_directories')).toBeGreaterThanOrEqual(0);
    // The dashboard's feed carries the same state for the page to show.
    const feed = new WebSocket(`ws://127.0.0.1:${gw.port}/v1/dashboard/stream`);
    const [hello] = (await once(feed, 'message')) as [Buffer];
    feed.close();
    expect(JSON.parse(hello.toString())).toMatchObject({
      type: 'hello',
      anchors: { status: 'ok', networkId: ANVIL_CHAIN_ID, anchoredHeight: expect.any(Number) },
    });

    // The whole store: every confirmed window's root from the store, its transaction on the node.
    const confirmedWindows = (await anchorWindows(gw)).filter((w) => w.state === 'confirmed').length;
    expect(await gw.stop()).toBe(0);
    const store = runCli(['verify', '--data', gw.dataDir, '--anchors', anvil.url]);
    expect(store.output).toContain(`anchors: ${confirmedWindows} confirmed windows`);
    expect(store.status).toBe(0);
    // Against another chain (a fresh node: no such transactions) it is refused.
    const other = await startAnvil({ port: await freePort() });
    const elsewhere = runCli(['verify', '--data', gw.dataDir, '--anchors', other.url]);
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.output).toContain(`does not know transaction ${ws[0]!.tx}`);
  });

  it('keeps sealing while the node is down, retries with back-off, and anchors the backlog once it is back', async () => {
    const port = await freePort();
    const stateFile = join(tempDir(), 'anvil-state.json');
    let anvil = await startAnvil({ port, stateFile });
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile()) });
    await writeCommitted(gw, 'outage', ['before 1']);
    await writeCommitted(gw, 'outage', ['before 2']);
    const lastBefore = (await writeCommitted(gw, 'outage', ['before 3'])).seq;
    const before = (await gw.json<EntryProof>(`/v1/chains/outage/entries/${lastBefore}`)).directory!.height;
    // Mid-window: the first window's transaction is in a block, one confirmation short.
    await expect.poll(async () => (await anchorWindows(gw))[0]?.state, ANCHOR_POLL).toBe('included');
    const first = await anchorWindows(gw);
    expect(first[0]!.last).toBeGreaterThanOrEqual(before);

    await anvil.stop();
    // Ingest does not wait for the node.
    const during: number[] = [];
    for (let i = 0; i < 4; i++) during.push((await writeCommitted(gw, 'outage', [`during ${i}`])).seq);
    const lastDuring = (await gw.json<EntryProof>(`/v1/chains/outage/entries/${during.at(-1)!}`)).directory!.height;
    // The status is posted after each attempt, so it is polled until it has seen the last seal.
    const health = async () =>
      (await gw.json<{ anchors: { failuresInRow: number; backlog: number; status: string; lastError: string | null } }>('/healthz')).anchors;
    await expect.poll(async () => (await health()).backlog, ANCHOR_POLL).toBeGreaterThanOrEqual(lastDuring - before);
    expect(await health()).toMatchObject({ status: 'retrying', failuresInRow: expect.any(Number), lastError: expect.any(String) });
    expect((await health()).failuresInRow).toBeGreaterThan(0);
    // The log says so too, with the node's URL and the cause, not only "HTTP request failed".
    const failed = gw.logs().find((line) => line.event === 'anchor-failed');
    expect(failed).toMatchObject({ level: 40, rpcUrl: anvil.url, error: expect.stringMatching(/ECONNREFUSED|fetch failed/) });

    anvil = await startAnvil({ port, stateFile });
    const after = await mineUntil(gw, anvil, confirmedThrough(lastDuring));
    // Windows follow each other without a gap or an overlap, one transaction each.
    for (let i = 1; i < after.length; i++) expect(after[i]!.first).toBe(after[i - 1]!.last + 1);
    expect(after[0]).toMatchObject({ tx: first[0]!.tx, blockHash: first[0]!.blockHash, state: 'confirmed', reanchors: 0 });
    expect(await accountNonce(anvil, 'latest')).toBe(after.length);
    const proof = await gw.json<EntryProof>(`/v1/chains/outage/entries/${during[0]!}`);
    expect(verifyEntry(proof)).toEqual({ ok: true });
    expect(await verifyAnchor(proof, anvil.url)).toMatchObject({ ok: true });
    expect(gw.logs().some((line) => line.event === 'anchor-recovered')).toBe(true);
  });

  it('finds its transaction again after a kill -9 with it in flight, and does not send another', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const key = anchorKeyFile();
    const gw = await startGateway({ config: anchorConfig(anvil.url, key) });
    for (let i = 0; i < 3; i++) await writeCommitted(gw, 'inflight', [`entry ${i}`]);
    await expect.poll(async () => (await anchorWindows(gw))[0]?.state, ANCHOR_POLL).toBe('sent');
    const [inFlight] = await anchorWindows(gw);
    await gw.kill();

    const again = await startGateway({ dataDir: gw.dataDir, config: anchorConfig(anvil.url, key) });
    // The restarted gateway watches the same transaction: the node's pool holds that one and no other.
    await expect
      .poll(async () => (await again.json<{ anchors: { window: { tx: string } | null } }>('/healthz')).anchors.window?.tx, ANCHOR_POLL)
      .toBe(inFlight!.tx);
    expect(await accountNonce(anvil, 'pending')).toBe(1);
    const ws = await mineUntil(again, anvil, (w) => w[0]?.state === 'confirmed');
    expect(ws[0]).toMatchObject({ first: inFlight!.first, last: inFlight!.last, tx: inFlight!.tx, nonce: 0 });
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);
  });

  it('detects a reorganisation that drops the transaction and anchors the window again', async () => {
    const anvil = await startAnvil({ port: await freePort(), automine: false });
    const gw = await startGateway({ config: anchorConfig(anvil.url, anchorKeyFile(), { confirmations: 3 }) });
    for (let i = 0; i < 3; i++) await writeCommitted(gw, 'reorg', [`entry ${i}`]);
    await expect.poll(async () => (await anchorWindows(gw))[0]?.state, ANCHOR_POLL).toBe('sent');
    const snapshot = await anvil.rpc<string>('evm_snapshot');
    await anvil.mine();
    await expect.poll(async () => (await anchorWindows(gw))[0]?.state, ANCHOR_POLL).toBe('included');
    const [included] = await anchorWindows(gw);

    // The block holding the transaction is undone and replaced by empty ones.
    await anvil.rpc('evm_revert', [snapshot]);
    await anvil.rpc('anvil_dropAllTransactions');
    await anvil.mine(2);
    await expect.poll(async () => (await anchorWindows(gw))[0]?.reanchors, ANCHOR_POLL).toBe(1);
    const ws = await mineUntil(gw, anvil, (w) => w[0]?.state === 'confirmed');
    expect(ws[0]).toMatchObject({ first: included!.first, last: included!.last, root: included!.root, reanchors: 1 });
    expect(ws[0]!.blockNumber).toBeGreaterThan(included!.blockNumber!);
    expect(ws[0]!.blockHash).not.toBe(included!.blockHash);
    expect(await accountNonce(anvil, 'latest')).toBe(ws.length);
    expect(gw.logs().some((line) => line.event === 'anchor-reorg')).toBe(true);
    const proof = await gw.json<EntryProof>('/v1/chains/reorg/entries/0');
    expect(await verifyAnchor(proof, anvil.url)).toMatchObject({ ok: true, blockNumber: ws[0]!.blockNumber });
  });

  it('refuses to start with half an anchoring config, a key others can read, or a key file without a key', () => {
    const rpc = 'http://127.0.0.1:1';
    const half = runCli(['serve', '--port', '0', '--data', tempDir(), '--anchor-rpc-url', rpc]);
    expect(half.status).toBe(2);
    expect(half.output).toContain('rpcUrl is set but keyFile is not');
    const open = anchorKeyFile();
    chmodSync(open, 0o644);
    const readable = runCli(['serve', '--port', '0', '--data', tempDir(), '--anchor-rpc-url', rpc, '--anchor-key-file', open]);
    expect(readable.status).toBe(2);
    expect(readable.output).toContain(`chmod 600 ${open}`);
    const junk = join(tempDir(), 'junk.key');
    writeFileSync(junk, 'not a key');
    chmodSync(junk, 0o600);
    const notKey = runCli(['serve', '--port', '0', '--data', tempDir(), '--anchor-rpc-url', rpc, '--anchor-key-file', junk]);
    expect(notKey.status).toBe(2);
    expect(notKey.output).toContain('does not hold a private key');
    const badUrl = runCli(['serve', '--port', '0', '--data', tempDir(), '--anchor-rpc-url', 'ftp://x']);
    expect(badUrl.status).toBe(2);
    expect(badUrl.output).toContain('anchors.ethereum.rpcUrl');
  });

  it('answers the windows route on a gateway that does not anchor, and refuses bad paging', async () => {
    const gw = await startGateway();
    const plain = await gw.http('/v1/anchors/windows');
    expect(plain.status).toBe(404);
    expect(await plain.json()).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('anchors.ethereum.rpcUrl') } });
    const bad = await gw.http('/v1/anchors/windows?from=-1');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringContaining('from') } });
    const health = await gw.json('/healthz');
    expect(health.anchors).toBeUndefined();
    const listing = await gw.json('/v1/anchors');
    expect(listing.windows).toBeUndefined();
  });
});
