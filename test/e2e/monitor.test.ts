// `chainlanes monitor` (src/monitor) against real gateways and hostile ones:
// it accepts a log that only grows, and catches a history rewritten under a
// gateway, a rollback, a bad signature and a stale head, each with both signed
// heads as evidence; a long run serves metrics and co-signs.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyHead, type HeadKeyView, type HeadView, type SignedHead } from '../../src/client/index.js';
import { CLI, flipHex, registerCleanup, rewriteDirectory, runCli, stableAddress, startGateway, tempDir, type ChildGateway } from '../helpers/index.js';

interface MonitorLine {
  gateway: string;
  event: string;
  reason?: string;
  evidence?: string;
  size?: number;
  previousSize?: number | null;
}

interface Evidence {
  format: string;
  event: string;
  reason: string;
  key: string;
  accepted: SignedHead;
  received: SignedHead;
  proof: { from: number; to: number; path: string[] } | null;
}

/** `chainlanes monitor --once --json`; asynchronous, since the relay and fake gateways answer from this process. */
async function monitorOnce(urls: string[], state: string, extra: string[] = []): Promise<{ status: number | null; lines: MonitorLine[]; output: string }> {
  const child = spawn(process.execPath, [CLI, 'monitor', ...urls, '--state', state, '--once', '--json', '--timeout', '5', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registerCleanup('monitor --once', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as MonitorLine);
  return { status, lines, output: stdout + stderr };
}

async function post(gw: ChildGateway, chain: string, entries: string[]): Promise<void> {
  const res = await gw.http(`/v1/chains/${chain}/entries?wait=committed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(entries),
  });
  expect(res.status).toBe(200);
}

const url = (gw: ChildGateway): string => `http://127.0.0.1:${gw.port}`;
// The relay (stableAddress) sends its own address in Host, which is none of the gateway's own names.
const FAST = { ledger: { blockIntervalMs: 20 }, allowedHosts: ['*'] };

function evidenceOf(line: MonitorLine | undefined): Evidence {
  expect(line?.evidence).toBeDefined();
  return JSON.parse(readFileSync(line!.evidence!, 'utf8')) as Evidence;
}

describe('chainlanes monitor against a gateway', () => {
  it('accepts a log that grows, keeping what it accepted on its own disk', async () => {
    const gw = await startGateway({ config: FAST });
    const state = tempDir('chainlanes-monitor-');
    await post(gw, 'mon', ['a']);
    const first = await monitorOnce([url(gw)], state);
    expect(first.status).toBe(0);
    expect(first.lines).toEqual([expect.objectContaining({ gateway: url(gw), event: 'ok', size: 1, previousSize: null })]);
    await post(gw, 'mon', ['b']);
    await post(gw, 'mon', ['c']);
    const second = await monitorOnce([url(gw)], state);
    expect(second.status).toBe(0);
    expect(second.lines).toEqual([expect.objectContaining({ event: 'ok', size: 3, previousSize: 1 })]);
    // A gateway that cannot be asked: exit 3, and the others are still checked.
    const down = await monitorOnce(['http://127.0.0.1:1', url(gw)], state);
    expect(down.status).toBe(3);
    expect(down.lines).toEqual([expect.objectContaining({ event: 'unreachable' }), expect.objectContaining({ event: 'ok', size: 3, previousSize: 3 })]);
  });

  it('catches a history rewritten under the gateway, with both signed heads as evidence', async () => {
    const gw = await startGateway({ config: FAST });
    const address = await stableAddress(gw);
    const key = await gw.json<HeadKeyView>('/v1/directory/key');
    const state = tempDir('chainlanes-monitor-');
    for (let i = 0; i < 5; i++) await post(gw, 'history', [`entry ${i}`]);
    expect((await monitorOnce([address.url], state)).status).toBe(0);
    const accepted = await gw.json<HeadView>('/v1/directory/head');
    expect(await gw.stop()).toBe(0);

    // Directory block 2 is changed and everything after it linked again; the log is rebuilt from the blocks at start.
    await rewriteDirectory(gw.dataDir, 2, { dropLog: true });
    // The store is whole by itself: nothing inside it shows the rewrite…
    expect(runCli(['verify', '--data', gw.dataDir]).status).toBe(0);
    const rewritten = await startGateway({ dataDir: gw.dataDir, config: FAST });
    address.to(rewritten);
    const forged = await rewritten.json<HeadView>('/v1/directory/head');
    expect({ size: forged.size, key: forged.key }).toEqual({ size: accepted.size, key: key.key });
    expect(forged.root).not.toBe(accepted.root);

    // …but the monitor holds the head signed before.
    const sameSize = await monitorOnce([address.url], state);
    expect(sameSize.status).toBe(1);
    expect(sameSize.lines).toEqual([expect.objectContaining({ event: 'fork', reason: `two heads of size ${accepted.size} signed with different roots` })]);
    const evidence = evidenceOf(sameSize.lines[0]);
    expect(evidence).toMatchObject({
      format: 'chainlanes-monitor-evidence/1',
      event: 'fork',
      key: key.key,
      accepted: { size: accepted.size, root: accepted.root },
      received: { size: accepted.size, root: forged.root },
    });
    expect(verifyHead(evidence.accepted, key.key)).toEqual({ ok: true });
    expect(verifyHead(evidence.received, key.key)).toEqual({ ok: true });

    // The log goes on from the forged history: its consistency proof cannot join the two.
    await post(rewritten, 'history', ['after the rewrite']);
    const grown = await monitorOnce([address.url], state);
    expect(grown.status).toBe(1);
    expect(grown.lines[0]).toMatchObject({
      event: 'fork',
      reason: expect.stringMatching(new RegExp(`consistency proof from size ${accepted.size} to ${accepted.size + 1} does not hold`)),
    });
    const proven = evidenceOf(grown.lines[0]);
    expect(proven.proof).toMatchObject({ from: accepted.size, to: accepted.size + 1 });
    expect(verifyConsistency(proven.accepted, proven.received, proven.proof!.path).ok).toBe(false);
    // The monitor never accepts the forged history: its state still holds the head signed before.
    expect((await monitorOnce([address.url], state)).status).toBe(1);
  });

  it('refuses to start a gateway whose directory blocks changed under its log, and verify names the block', async () => {
    const gw = await startGateway({ config: FAST });
    for (let i = 0; i < 4; i++) await post(gw, 'tail', [`entry ${i}`]);
    expect(await gw.stop()).toBe(0);
    await rewriteDirectory(gw.dataDir, 1, { dropLog: false });
    const start = runCli(['serve', '--port', '0', '--data', gw.dataDir]);
    expect(start.status).toBe(1);
    expect(start.output).toMatch(/its hash is not the directory log's leaf \d+; the directory block changed after it was logged/);
    const verify = runCli(['verify', '--data', gw.dataDir]);
    expect(verify.status).toBe(1);
    expect(verify.output).toMatch(/BROKEN: directory log: its node \(0, 1\) is not the one directory 1's hash gives/);
  });

  it('reports a rollback to an older copy of the store', async () => {
    const gw = await startGateway({ config: FAST });
    const address = await stableAddress(gw);
    const state = tempDir('chainlanes-monitor-');
    await post(gw, 'roll', ['one']);
    expect(await gw.stop()).toBe(0);
    const copy = join(tempDir('chainlanes-rollback-'), 'store');
    cpSync(gw.dataDir, copy, { recursive: true });
    const again = await startGateway({ dataDir: gw.dataDir, config: FAST });
    address.to(again);
    await post(again, 'roll', ['two']);
    await post(again, 'roll', ['three']);
    expect((await monitorOnce([address.url], state)).lines[0]).toMatchObject({ event: 'ok', size: 3 });
    expect(await again.stop()).toBe(0);
    rmSync(gw.dataDir, { recursive: true, force: true });
    cpSync(copy, gw.dataDir, { recursive: true });
    address.to(await startGateway({ dataDir: gw.dataDir, config: FAST }));
    const run = await monitorOnce([address.url], state);
    expect(run.status).toBe(1);
    expect(run.lines[0]).toMatchObject({ event: 'rollback', reason: 'a head of size 1, after one of size 3 was accepted' });
    expect(evidenceOf(run.lines[0])).toMatchObject({ accepted: { size: 3 }, received: { size: 1 } });
  });
});

/** A server that answers the monitor's GETs with whatever `answers` says (hostile or broken gateways). */
async function fakeGateway(answers: (path: string) => { status?: number; body: string } | undefined): Promise<string> {
  const server: Server = createServer((req, res) => {
    const answer = answers(req.url ?? '');
    if (answer === undefined) return void res.writeHead(404).end('{}');
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  registerCleanup('fake gateway', () => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('chainlanes monitor against hostile answers', () => {
  it('reports a bad signature, a stale head and a malformed one, and stays bounded on a huge answer', async () => {
    const gw = await startGateway({ config: FAST });
    await post(gw, 'hostile', ['x']);
    const key = await gw.json<HeadKeyView>('/v1/directory/key');
    const head = await gw.json<HeadView>('/v1/directory/head');
    let served: unknown = head;
    const fake = await fakeGateway((path) => {
      if (path === '/v1/directory/key') return { body: JSON.stringify(key) };
      if (path === '/v1/directory/head') return { body: typeof served === 'string' ? served : JSON.stringify(served) };
      return undefined;
    });
    const state = tempDir('chainlanes-monitor-');
    expect((await monitorOnce([fake], state)).status).toBe(0);

    served = { ...head, signature: flipHex(head.signature, 100) };
    const bad = await monitorOnce([fake], state);
    expect(bad.status).toBe(1);
    expect(bad.lines[0]).toMatchObject({ event: 'bad-signature', reason: expect.stringMatching(/does not verify under key/) });
    expect(evidenceOf(bad.lines[0])).toMatchObject({ event: 'bad-signature', key: key.key, accepted: { signature: head.signature } });

    served = { size: 1 };
    expect((await monitorOnce([fake], state)).lines[0]).toMatchObject({
      event: 'bad-signature',
      reason: 'the answer is not a signed head {size, time, root, signature}',
    });

    served = head;
    const stale = await monitorOnce([fake], state, ['--max-age', '0.001']);
    expect(stale.status).toBe(1);
    expect(stale.lines[0]).toMatchObject({ event: 'stale', reason: expect.stringMatching(/signed \d+ s ago, more than --max-age 0.001 s/) });

    served = `{"size":1,"pad":"${'x'.repeat(300 * 1024)}"}`;
    const huge = await monitorOnce([fake], state);
    expect(huge.status).toBe(3);
    expect(huge.lines[0]).toMatchObject({
      event: 'unreachable',
      reason: expect.stringMatching(/above the 262144 a monitor reads|longer than the 262144 bytes/),
    });
  });
});

describe('chainlanes monitor, running', () => {
  it('serves Prometheus metrics and co-signs the heads it accepts', async () => {
    const dir = tempDir('chainlanes-witness-');
    const cosignKey = join(dir, 'witness.pem');
    writeFileSync(cosignKey, execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519']));
    chmodSync(cosignKey, 0o600);
    const der = execFileSync('openssl', ['pkey', '-in', cosignKey, '-pubout', '-outform', 'DER']);
    const witness = der.subarray(der.length - 32).toString('hex');
    const gw = await startGateway({ config: { ...FAST, heads: { witnesses: [witness] } } });
    await post(gw, 'witnessed', ['w']);
    const child = spawn(
      process.execPath,
      [CLI, 'monitor', url(gw), '--state', tempDir('chainlanes-monitor-'), '--interval', '0.2', '--metrics', '127.0.0.1:0', '--cosign-key', cosignKey],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    registerCleanup('monitor', () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await expect.poll(() => /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(output)?.[1], { timeout: 15_000 }).toBeDefined();
    const metricsPort = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(output)![1];
    await post(gw, 'witnessed', ['w2']);
    await expect
      .poll(async () => (await gw.json<HeadView>('/v1/directory/head')).cosignatures.map((c) => [c.witness, c.head.size]), { timeout: 15_000 })
      .toContainEqual([witness, 2]);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const checked = new RegExp(`chainlanes_monitor_heads_checked_total\\{gateway="${url(gw)}"\\} (\\d+)`).exec(metrics);
    expect(Number(checked?.[1])).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(new RegExp(`chainlanes_monitor_head_size\\{gateway="${url(gw)}"\\} 2`));
    expect(metrics).toMatch(/process_cpu_seconds_total/);
    child.kill('SIGTERM');
    await expect.poll(() => child.exitCode, { timeout: 10_000 }).toBe(0);
    expect(output).not.toMatch(/FORK|ROLLBACK|BAD-SIGNATURE|refused/);
  });
});
