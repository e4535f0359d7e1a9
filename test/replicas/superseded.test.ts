// Superseded seals in the running fleet (docs/replicas.md parts 3 and 6): g1
// owns a chain with g2 as its standby; the path to g2 is cut, g1 seals a seal
// g2 never gets and is killed -9; g2 takes the chain over at that height. g1
// comes back on its store (its unacknowledged tail truncated: those
// directories are superseded) and stands by for g2. Then g2 is killed -9: g1
// takes the chain over and seals new seals after its superseded ones. g2
// comes back on its store and stands by for g1 — its position for g1 is where
// it took over, below g1's superseded directories — so g1's shipping must pass
// them (their mark, no blocks) before its new seals: a new frame on g1 is
// `committed` without `alone`, and every committed entry reads back with a
// proof from g1 (the last owner) and from g2's store, which verifies, naming
// the superseded directories it holds of g1.
import { describe, expect, it } from 'vitest';
import { verifyEntry } from '../../src/client/index.js';
import { EtcdClient } from '../../src/fleet/index.js';
import { registerCleanup, runCli, startEtcd } from '../helpers/index.js';
import {
  acceptedFrame,
  acceptedHashes,
  committedUpTo,
  exited,
  FAILOVER,
  killed,
  newPrefix,
  saying,
  shipping,
  startReplicaGateway,
  stream,
  streamWhenServed,
  until,
  type Client,
  type Reply,
} from './gateway-process.js';

/** Sends frames until one is committed without `alone` (the owner is in step with its standby again); that frame. */
async function committedInStep(client: Client): Promise<Reply> {
  let last: Reply | undefined;
  await until(
    'a frame committed without alone',
    async () => {
      const frame = await acceptedFrame(client, [`in step ${client.replies.length}`]);
      await until('committed', () => committedUpTo(client.replies) >= frame.seq!, 30_000);
      const notice = client.replies.filter((r) => r.type === 'committed' && r.seq! + r.count! > frame.seq!).at(-1)!;
      if (notice.alone === undefined) last = frame;
      return last !== undefined;
    },
    60_000,
  );
  return last!;
}

describe('superseded seals in the fleet', () => {
  it('a returning owner that owns the chain again ships past its superseded seals: committed without alone, every entry provable on both', async () => {
    const etcd = await startEtcd();
    const prefix = newPrefix();
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => root.close());
    const record = async (key: string): Promise<Record<string, unknown> | null> => {
      const { kvs } = await root.range(`${prefix}${key}`);
      return kvs.length === 0 ? null : (JSON.parse(kvs[0]!.value.toString('utf8')) as Record<string, unknown>);
    };
    // g1 waits for its standby (never alone: a standby does not take over from an owner that went on alone).
    const g1 = await startReplicaGateway(etcd, prefix, 'g1', 'm1', 'wait', FAILOVER);
    const g2 = await startReplicaGateway(etcd, prefix, 'g2', 'm2', 'alone', { ...FAILOVER, relayed: true });
    await shipping(g1, 'g2');
    const first = await stream(g1.port, 'books');
    for (let i = 0; i < 6; i++) await acceptedFrame(first, [`one ${i}a`, `one ${i}b`]);
    await until('committed on g1', () => committedUpTo(first.replies) >= 11);
    const committedDirectory = Math.max(...first.replies.filter((r) => r.type === 'committed').map((r) => r.directory!));

    // g1 seals what g2 never gets, and dies: g2 takes over below it.
    g2.relay!.cut();
    await acceptedFrame(first, ['never', 'acknowledged']);
    await until('the unacknowledged frame sealed on g1', async () => (await g1.sealedHeight()) > committedDirectory);
    const g1Sealed = await g1.sealedHeight();
    await killed(g1);
    await saying(
      g2,
      until('the takeover of g1', async () => (await record('takeover/g1')) !== null, 60_000),
    );
    const firstTakeover = (await record('takeover/g1')) as { by: string; acked: number };
    expect(firstTakeover.by).toBe('g2');
    expect(firstTakeover.acked).toBeLessThan(g1Sealed);
    g2.relay!.heal();
    const second = await streamWhenServed(g2, 'books');
    for (let i = 0; i < 3; i++) await acceptedFrame(second, [`two ${i}`]);

    // g1 back on its store: its tail above the takeover is superseded; it stands by for g2.
    // Alone once it owns the chain again and g2 is down, so its frames are committed meanwhile.
    const g1Back = await startReplicaGateway(etcd, prefix, 'g1', 'm1', 'alone', { ...FAILOVER, dataDir: g1.dataDir });
    await shipping(g2, 'g1');
    await committedInStep(second);
    await saying(
      g2,
      until('replica/g2 gone (g2 in step)', async () => (await record('replica/g2')) === null, 30_000),
    );
    const g1Superseded = { from: firstTakeover.acked + 1, to: g1Sealed };
    expect(await g1Back.sealedHeight()).toBe(g1Sealed);

    // g2 dies: g1 owns the chain again and seals after its superseded directories.
    await killed(g2);
    await saying(
      g1Back,
      until('the takeover of g2', async () => (await record('takeover/g2')) !== null, 60_000),
    );
    expect(await record('takeover/g2')).toMatchObject({ by: 'g1' });
    const third = await streamWhenServed(g1Back, 'books');
    const alone = await acceptedFrame(third, ['three alone']);
    await until('committed alone on g1', () => committedUpTo(third.replies) >= alone.seq!, 30_000);
    expect(await g1Back.sealedHeight()).toBeGreaterThan(g1Superseded.to);

    // g2 back on its store: it stands by for g1 from where it took over, below g1's superseded directories.
    const g2Back = await startReplicaGateway(etcd, prefix, 'g2', 'm2', 'alone', { ...FAILOVER, dataDir: g2.dataDir });
    await shipping(g1Back, 'g2');
    const last = await committedInStep(third);
    expect(await g2Back.position('g1')).toBeGreaterThan(g1Superseded.to);
    // (A 403 while g2 claims standby/g1 is the naming settling; the gap was a refusal of the seals themselves.)
    expect(g1Back.stderr()).not.toMatch(/out_of_step|seal of gateway \\"g1\\" at directory|could not read seal/);

    // Every committed entry, from the last owner and from its standby's store, with the hash its owner accepted.
    const hashes = acceptedHashes(third.replies, acceptedHashes(second.replies, acceptedHashes(first.replies)));
    const committed = [first, second, third].flatMap((c) =>
      c.replies.filter((r) => r.type === 'committed').flatMap((r) => Array.from({ length: r.count! }, (_, i) => r.seq! + i)),
    );
    expect(Math.max(...committed)).toBeGreaterThanOrEqual(last.seq!);
    for (const seq of new Set(committed)) {
      for (const g of [g1Back, g2Back]) {
        const proof = await g.proof('books', seq);
        expect(proof, `seq ${seq} on ${g.id}`).not.toBeNull();
        expect(verifyEntry(proof!, { chain: 'books', seq, hash: hashes.get(seq)! }), `seq ${seq} on ${g.id}`).toEqual({ ok: true });
      }
    }

    g2Back.child.kill('SIGTERM');
    await exited(g2Back);
    const verified = runCli(['verify', '--data', g2Back.dataDir]);
    expect(verified.status, verified.output).toBe(0);
    expect(verified.output).toMatch(
      new RegExp(
        `replicated from "g1": \\d+ directories linked; ${g1Superseded.from}–${g1Superseded.to} superseded by failover at token \\d+ \\(taken over by "g2"\\)`,
      ),
    );
  }, 300_000);
});
