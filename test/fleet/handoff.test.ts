// A chain handed off among three real gateways behind real HAProxy, with a
// real etcd deciding who owns it, while a client of the package streams to it
// through the proxy: every frame is answered, the seqs have no gap and no
// duplicate, every entry before and after reads through the proxy with a
// proof that verifies, the chain's credits are what they were less what its
// entries burned, and each gateway's store verifies (blocks, adopted blocks
// with their sealing gateway's directory proofs, credits across the moves).
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, verifyEntry, type EntryProof, type SubmitResult } from '../../src/client/index.js';
import { newKey } from '../../src/credits/index.js';
import { freePort, fleetRun, mirrorArgs, proxyFor, registerCleanup, runCli, runCliAsync, sleep, startEtcd, startFleetGateway } from '../helpers/index.js';

const ENTRIES_PER_FRAME = 5;
const IN_FLIGHT = 8;
const READS_IN_FLIGHT = 16;
/**
 * A pause between frames: the stream stays busy (frames in flight at every move) without writing tens of
 * thousands of entries while each `fleet move` process starts, every one of which is read back after.
 */
const FRAME_PAUSE_MS = 2;

/** An HTTP call through the proxy with `key`; the answer parsed. */
async function through(
  proxyUrl: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(proxyUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text } }; // HAProxy's own pages are HTML
  }
}

/** Retried while the proxy's map has not caught up (a stale route costs one `moved`). */
async function until(call: () => Promise<{ status: number; body: Record<string, unknown> }>, ok = 200): Promise<Record<string, unknown>> {
  let last: { status: number; body: Record<string, unknown> } | undefined;
  await expect.poll(async () => (last = await call()).status, { timeout: 20_000, interval: 100, message: JSON.stringify(last) }).toBe(ok);
  return last!.body;
}

interface FleetView {
  members: { id: string; chains: number; load: number | null }[];
  moves: { from: string; to: string; reason: string }[];
}

/** The `fleet` of the dashboard feed's messages, once `ready` holds for it. */
async function dashboardFleet(url: string, key: string, ready: (fleet: FleetView) => boolean): Promise<FleetView> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/dashboard/stream?key=${key}`);
  registerCleanup('dashboard feed', () => ws.terminate());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fleet view never showed what was expected')), 30_000);
    ws.on('message', (data: Buffer) => {
      const fleet = (JSON.parse(data.toString()) as { fleet: FleetView | null }).fleet;
      if (fleet === null || !ready(fleet)) return;
      clearTimeout(timer);
      resolve(fleet);
    });
  });
}

describe('a chain handed off among three gateways behind HAProxy', () => {
  it('a client streaming through the proxy sees every frame answered, seqs without gap or duplicate; every entry reads back with a proof; credits and stores verify', async () => {
    const etcd = await startEtcd();
    const prefix = '/handoff/';
    const adminKey = newKey();
    const proxyPort = await freePort();
    const allowedHosts = [`127.0.0.1:${proxyPort}`];
    const gateways = await Promise.all(['g1', 'g2', 'g3'].map((id) => startFleetGateway({ etcd: etcd.endpoints, prefix, id, adminKey, allowedHosts })));
    await expect.poll(async () => (await gateways[0]!.json<{ fleet?: { members: number } }>('/healthz')).fleet?.members, { timeout: 15_000 }).toBe(3);
    const proxy = await proxyFor(etcd.endpoints, prefix, { host: '127.0.0.1', port: proxyPort });
    fleetRun([...mirrorArgs(etcd.endpoints, prefix, proxy), '--no-balance', '--lease-ttl', '2']);

    // Through the proxy: an account, its chain (claimed by whichever gateway the request reached), a price, credits.
    const owner = (await until(() => through(proxy.url, 'POST', '/v1/accounts', adminKey, { name: 'owner' }), 201)) as { id: string; key: string };
    await until(() => through(proxy.url, 'POST', '/v1/chains', owner.key, { name: 'ledger', owner: owner.id }), 201);
    const policy = { writePerEntry: 1, writePerKiB: 0, readPerEntry: 0, writers: 'owner', readers: 'owner', transferable: false };
    await until(() => through(proxy.url, 'PUT', '/v1/chains/ledger/policy', owner.key, policy));
    const MINTED = 1_000_000;
    await until(() => through(proxy.url, 'POST', '/v1/chains/ledger/credits/mint', owner.key, { to: owner.id, amount: MINTED }));

    const client = await connect(proxy.url, 'ledger', { key: owner.key });
    registerCleanup('client', () => client.close());
    const results: SubmitResult[] = [];
    const failures: unknown[] = [];
    let sent = 0;
    let streaming = true;
    const stream = (async () => {
      const window = new Set<Promise<void>>();
      while (streaming) {
        const i = sent++;
        const p = client
          .submit(Array.from({ length: ENTRIES_PER_FRAME }, (_, k) => `entry ${i * ENTRIES_PER_FRAME + k}`))
          // A failure ends the stream (and the test, below): a client that refuses at once would otherwise spin here.
          .then(
            (r) => {
              results[i] = r;
            },
            (e: unknown) => {
              failures.push(e);
              streaming = false;
            },
          )
          .finally(() => window.delete(p));
        window.add(p);
        if (window.size >= IN_FLIGHT) await Promise.race(window);
        await sleep(FRAME_PAUSE_MS);
      }
      await Promise.all(window);
    })();
    // A failure is thrown by the polls below, at once, rather than waited out.
    const answered = (): number => {
      if (failures.length > 0) throw failures[0] as Error;
      return results.filter((r) => r !== undefined).length;
    };
    const ownerOf = async (): Promise<string> => (await proxy.runtime.showMap(proxy.paths.map)).get('ledger') ?? '';

    // Three moves while the client streams: each to a gateway that is not the owner, each after more frames went through.
    const moves: string[] = [];
    for (let move = 0; move < 3; move++) {
      const before = answered();
      await expect.poll(answered, { timeout: 20_000 }).toBeGreaterThan(before + 20);
      const from = await ownerOf();
      const ids = gateways.map((g) => g.id);
      const to = ids[(ids.indexOf(from) + 1) % ids.length]!;
      const moved = await runCliAsync(['fleet', 'move', 'ledger', to, '--etcd', etcd.endpoints.join(','), '--prefix', prefix], 120_000, {
        CHAINLANES_ADMIN_KEY: adminKey,
      });
      expect(moved.status, moved.output).toBe(0);
      moves.push(`${from}→${to}`);
      await expect.poll(ownerOf, { timeout: 10_000 }).toBe(to);
    }
    const after = answered();
    await expect.poll(answered, { timeout: 20_000 }).toBeGreaterThan(after + 20);
    streaming = false;
    await stream;

    // Every frame answered, in order: frame i holds entries i×5 … i×5+4, so the seqs have no gap and no duplicate.
    expect(failures).toEqual([]);
    expect(results).toHaveLength(sent);
    results.forEach((r, i) => expect(r.seq, `frame ${i}`).toBe(i * ENTRIES_PER_FRAME));
    const total = sent * ENTRIES_PER_FRAME;
    expect(new Set(moves.flatMap((m) => m.split('→')))).toEqual(new Set(['g1', 'g2', 'g3']));

    // Every entry reads through the proxy, its content as sent, with a proof that verifies (blocks sealed by three gateways).
    await until(() => through(proxy.url, 'GET', `/v1/chains/ledger/entries/${total - 1}`, owner.key));
    const sealers = new Set<string>();
    const readBack = async (seq: number): Promise<void> => {
      const proof = (await through(proxy.url, 'GET', `/v1/chains/ledger/entries/${seq}`, owner.key)).body as unknown as EntryProof;
      expect(Buffer.from(proof.content, 'base64').toString(), `seq ${seq}`).toBe(`entry ${seq}`);
      expect(verifyEntry(proof), `seq ${seq}`).toEqual({ ok: true });
      sealers.add(proof.directory?.gateway?.id ?? 'the serving gateway');
    };
    // Thousands of entries: read READS_IN_FLIGHT at a time, not one round trip each after the other.
    for (let from = 0; from < total; from += READS_IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, total - from) }, (_, k) => readBack(from + k)));
    }
    expect(sealers.size).toBeGreaterThanOrEqual(3);
    // The credits moved with the chain: minted less one per entry, nothing lost or made on the way.
    expect((await through(proxy.url, 'GET', `/v1/chains/ledger/credits/${owner.id}`, owner.key)).body).toEqual({ account: owner.id, balance: MINTED - total });

    // The dashboard's fleet view: every gateway, its load and chains, and the three moves with their reasons.
    const view = await dashboardFleet(gateways[0]!.url, adminKey, (fleet) => fleet.moves.length >= 3);
    expect(view.members.map((m) => m.id)).toEqual(['g1', 'g2', 'g3']);
    expect(view.members.reduce((n, m) => n + m.chains, 0)).toBe(1);
    expect(
      view.moves
        .slice(0, 3)
        .map((m) => `${m.from}→${m.to}`)
        .reverse(),
    ).toEqual(moves);
    expect(view.moves[0]!.reason).toMatch(/moved by hand \(chainlanes fleet move\)/);

    // Each store verifies on its own: links across local and adopted blocks, adopted blocks' directory proofs, credits with their openings and closings.
    for (const gw of gateways) {
      expect(await gw.stop()).toBe(0);
      const verified = runCli(['verify', '--data', gw.dataDir]);
      expect(verified.status, `${gw.id}: ${verified.output}`).toBe(0);
      expect(verified.output).toMatch(/credits: 1 chains/);
    }
  }, 240_000);
});
