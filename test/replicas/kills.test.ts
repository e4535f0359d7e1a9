// Ten kills in a row (issue #22, docs/replicas.md): two gateway processes with
// `fleet.replicas: 1` and `whenStandbyLost: "wait"`, real etcd, real HAProxy
// kept in step by `fleet run`, and the client package with frame ids
// flooding one chain through the proxy. Each round the owner is killed with
// -9 while frames are accepted and not committed; its standby takes the
// chain over once the lease expires, the killed one comes back on its own
// store (a follower: it truncates what was never acknowledged) and stands by
// for the new owner, and the flood goes on. After every failover each entry
// ever reported committed reads back through the proxy with a proof that
// verifies; at the end the application saw each of its frames committed
// exactly once, and the store holds each entry once, at the seq reported.
import { describe, expect, it } from 'vitest';
import { connect, verifyEntry, type EntryProof, type FrameCommitted } from '../../src/client/index.js';
import { EtcdClient } from '../../src/fleet/index.js';
import { fleetRun, freePort, mirrorArgs, proxyFor, registerCleanup, startEtcd } from '../helpers/index.js';
import { expectStored, Flood, hex, PER_FRAME } from '../client/flood.js';
import { FAILOVER, killed, newPrefix, saying, shipping, startReplicaGateway, telling, until, type GatewayProcess } from './gateway-process.js';

const KILLS = 10;
const CHAIN = 'ten-kills';
const READS_IN_FLIGHT = 16;
/** Frames submitted before each kill, and while the chain moves. */
const FRAMES_BEFORE_KILL = 40;
const FRAMES_DURING_FAILOVER = 20;

/** Every entry of `frames` reads back from `base` with a proof that verifies against the hash its frame was committed with. */
async function expectProvable(base: string, frames: readonly FrameCommitted[]): Promise<void> {
  const entries = frames.flatMap((frame) => frame.hashes.map((hash, i) => ({ seq: frame.seq + i, hash: hex(hash) })));
  const readBack = async ({ seq, hash }: { seq: number; hash: string }): Promise<void> => {
    const response = await fetch(`${base}/v1/chains/${CHAIN}/entries/${seq}`);
    expect(response.status, `seq ${seq}`).toBe(200);
    expect(verifyEntry((await response.json()) as EntryProof, { chain: CHAIN, seq, hash }), `seq ${seq}`).toEqual({ ok: true });
  };
  for (let from = 0; from < entries.length; from += READS_IN_FLIGHT) await Promise.all(entries.slice(from, from + READS_IN_FLIGHT).map(readBack));
}

describe('kill -9 of the owner under a flood through HAProxy, ten times in a row', () => {
  it('each time the standby takes the chain over and the killed one returns as its standby; every entry reported committed reads back with a proof; each frame committed exactly once, no seq given twice', async () => {
    const etcd = await startEtcd();
    const prefix = newPrefix();
    const proxyPort = await freePort();
    const more = { ...FAILOVER, allowedHosts: [`127.0.0.1:${proxyPort}`] };
    const machineOf = (g: GatewayProcess) => (g.id === 'g1' ? 'm1' : 'm2');
    const [g1, g2] = await Promise.all([
      startReplicaGateway(etcd, prefix, 'g1', 'm1', 'wait', more),
      startReplicaGateway(etcd, prefix, 'g2', 'm2', 'wait', more),
    ]);
    await shipping(g1, 'g2');
    await shipping(g2, 'g1');
    const proxy = await proxyFor(etcd.endpoints, prefix, { host: '127.0.0.1', port: proxyPort });
    fleetRun([...mirrorArgs(etcd.endpoints, prefix, proxy), '--no-balance', '--id', 'mirror']);
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => root.close());
    const ownerOf = async (): Promise<string | null> => {
      const kv = (await root.range(`${prefix}chains/${CHAIN}`)).kvs[0];
      return kv === undefined ? null : (JSON.parse(kv.value.toString('utf8')) as { gateway: string }).gateway;
    };

    // The chain is claimed by its first frame, wherever HAProxy sends a chain nobody owns yet.
    const client = await connect(proxy.url, CHAIN, { frameIds: true, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
    registerCleanup('client', () => client.close());
    const flood = new Flood(client);
    // What the connection did, for a failure to tell.
    const connection: string[] = [];
    client.on('open', (info) => connection.push(`${Date.now()} open${info.reconnected ? ' again' : ''}`));
    client.on('disconnect', (info) => connection.push(`${Date.now()} disconnect ${info.code} ${info.reason}`));
    client.on('error', (error) => connection.push(`${Date.now()} error ${error.code} ${error.message}`));
    flood.send(10);
    await flood.settled();
    let [owner, standby] = (await ownerOf()) === 'g1' ? [g1, g2] : [g2, g1];
    expect(await ownerOf()).toBe(owner.id);

    const uncommittedAtKills: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      // Killed only when its standby is in step (else nobody may take over: what it has not acknowledged was never committed).
      await shipping(owner, standby.id);
      flood.send(FRAMES_BEFORE_KILL);
      await telling(
        async () =>
          `client connected ${client.connected}, ${JSON.stringify(client.frameStats)}, ${flood.reports.size} of ${flood.submitted.length} frames committed; owner ${await ownerOf()}; ${connection.slice(-10).join('; ')}`,
        until(
          `round ${kill}: frames accepted and not committed`,
          () => {
            if (client.connected && client.frameStats!.uncommitted > 0) return true;
            // All committed between two looks (they came just before a block was cut, and it sealed at once): more.
            if (flood.reports.size === flood.submitted.length) flood.send(FRAMES_BEFORE_KILL);
            return false;
          },
          30_000,
        ),
      );
      uncommittedAtKills.push(client.frameStats!.uncommitted);
      connection.push(`${Date.now()} round ${kill}: ${owner.id} killed`);
      await killed(owner);
      await saying(
        standby,
        until(`round ${kill}: ${standby.id} owns ${CHAIN}`, async () => (await ownerOf()) === standby.id, 60_000),
      );
      // Back on its own store and port (HAProxy's configuration names it there): a follower of the new owner.
      const back = await startReplicaGateway(etcd, prefix, owner.id, machineOf(owner), 'wait', { ...more, dataDir: owner.dataDir, port: owner.port });
      [owner, standby] = [standby, back];
      flood.send(FRAMES_DURING_FAILOVER);
      // `wait`: nothing is committed until the returned one holds it too.
      await saying(owner, flood.settled(60_000));
      await expectProvable(
        proxy.url,
        [...flood.reports.values()].map((r) => r[0]!),
      );
    }

    const frames = flood.expectExactlyOnce();
    const total = flood.submitted.length * PER_FRAME;
    await expectStored(proxy.url, CHAIN, frames, total);
    expect(uncommittedAtKills.every((n) => n > 0)).toBe(true);
    const stats = client.frameStats!;
    // Frames the dead owner had accepted were sent again: answered from the replicated window, or written again when
    // the standby never acknowledged them (so never committed).
    expect(stats.repeats + stats.rewritten).toBeGreaterThan(0);
    expect(stats).toMatchObject({ uncommitted: 0, reported: flood.submitted.length, duplicates: 0 });
    // The survivor of the last round owns the chain; neither store lost a committed entry (the standby holds them all).
    expect(await ownerOf()).toBe(owner.id);
    await shipping(owner, standby.id);
    for (const frame of frames.slice(0, 20)) {
      const proof = await standby.proof(CHAIN, frame.seq);
      expect(verifyEntry(proof!, { chain: CHAIN, seq: frame.seq, hash: hex(frame.hashes[0]!) }), `seq ${frame.seq} on ${standby.id}`).toEqual({ ok: true });
    }
  }, 600_000);
});
