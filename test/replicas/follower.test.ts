// The old owner returns (docs/replicas.md part 6): g1 owns a chain with g2
// as its standby; the path from g1 to g2 is cut (a relay the fleet reaches g2
// by), so the seal g1 makes next never reaches g2 and is never reported
// committed; g1 is killed with -9 and g2 takes the chain over and gives the
// unacknowledged seqs again. g1 comes
// back — on its own store, or on an empty data directory (rm -rf) — and
// before it listens truncates what `takeover/g1` says was never acknowledged
// (the entries, their burns, the frame ids), deletes the record, then stands
// by for g2 and catches up: every entry ever reported committed, by g1 or by
// g2, reads back from g1's store with a proof that verifies and the hash its
// owner accepted, and the store verifies, naming the truncation.
import { rmSync } from 'node:fs';
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
  newPrefix,
  saying,
  shipping,
  startReplicaGateway,
  stream,
  streamWhenServed,
  until,
  type GatewayProcess,
  type Reply,
} from './gateway-process.js';

/** The gateway's JSON log lines on stderr with this event. */
function logged(g: GatewayProcess, event: string): Record<string, unknown>[] {
  return g
    .stderr()
    .split('\n')
    .filter((line) => line.includes(`"event":"${event}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the old owner returns after a takeover', () => {
  it.each(['on its own store', 'on an empty data directory (rm -rf)'])(
    'comes back %s: truncates what was never acknowledged before it listens, stands by for the new owner and catches up; every committed entry reads back from it',
    async (how) => {
      const wiped = how.includes('rm -rf');
      const etcd = await startEtcd();
      const prefix = newPrefix();
      const g1 = await startReplicaGateway(etcd, prefix, 'g1', 'm1', 'wait', FAILOVER);
      const g2 = await startReplicaGateway(etcd, prefix, 'g2', 'm2', 'alone', { ...FAILOVER, relayed: true });
      await shipping(g1, 'g2');
      const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
      registerCleanup('etcd client', () => root.close());
      const client = await stream(g1.port, 'books');
      const frames: Reply[] = [];
      for (let i = 0; i < 10; i++) frames.push(await acceptedFrame(client, [`b${i}a`, `b${i}b`]));
      await until('committed on g1', () => committedUpTo(client.replies) >= frames.at(-1)!.seq! + 1);
      const committed = committedUpTo(client.replies);
      const committedDirectory = Math.max(...client.replies.filter((r) => r.type === 'committed').map((r) => r.directory!));

      // The path to the standby is cut: the next seal of g1 never reaches it, so is never reported committed.
      g2.relay!.cut();
      const unacked = await acceptedFrame(client, ['never', 'acknowledged']);
      await until('the unacknowledged frame sealed on g1', async () => (await g1.sealedHeight()) > committedDirectory);
      g1.child.kill('SIGKILL');
      await exited(g1);
      expect(committedUpTo(client.replies)).toBe(committed);

      await saying(
        g2,
        until('the takeover of g1', async () => (await root.range(`${prefix}takeover/g1`)).kvs.length === 1, 60_000),
      );
      const takeover = JSON.parse((await root.range(`${prefix}takeover/g1`)).kvs[0]!.value.toString('utf8')) as { by: string; acked: number };
      expect(takeover).toMatchObject({ by: 'g2' });
      expect(takeover.acked).toBeGreaterThanOrEqual(committedDirectory);
      g2.relay!.heal();
      // g2 gives the unacknowledged seqs again: they were never durable on both, and nobody was told they were.
      const onG2 = await streamWhenServed(g2, 'books');
      const given = await acceptedFrame(onG2, ['given again']);
      expect(given.seq).toBe(unacked.seq);
      await until('committed on g2', () => committedUpTo(onG2.replies) >= given.seq!, 30_000);

      if (wiped) rmSync(g1.dataDir, { recursive: true, force: true });
      const back = await startReplicaGateway(etcd, prefix, 'g1', 'm1', 'wait', { ...FAILOVER, dataDir: g1.dataDir });
      // Truncated before it listened, and the record gone.
      const truncated = logged(back, 'replica-truncated');
      expect(truncated).toHaveLength(1);
      expect(truncated[0]).toMatchObject({ by: 'g2', after: takeover.acked, entries: wiped ? 0 : 2 });
      expect((await root.range(`${prefix}takeover/g1`)).kvs).toHaveLength(0);
      // The chain is g2's: g1 accepts nothing of it.
      const refused = await stream(back.port, 'books').then(
        () => 'opened',
        (error: unknown) => String(error),
      );
      expect(refused).toMatch(/421|Unexpected server response/);

      // g1 stands by for g2 and catches up; g2 is back in step (committed without `alone`).
      await shipping(g2, 'g1');
      let last: Reply | undefined;
      await until(
        'a frame on g2 committed without alone',
        async () => {
          const frame = await acceptedFrame(onG2, ['in step']);
          await until('committed', () => committedUpTo(onG2.replies) >= frame.seq!, 30_000);
          const notice = onG2.replies.filter((r) => r.type === 'committed').at(-1)!;
          if (notice.alone === undefined) last = frame;
          return last !== undefined;
        },
        60_000,
      );

      // Every committed entry — g1's before the kill, g2's after — from g1's store, with the hash its owner accepted.
      const hashes = acceptedHashes(onG2.replies, acceptedHashes(client.replies));
      for (let seq = 0; seq <= last!.seq!; seq++) {
        if (seq > committed && seq < given.seq!) continue;
        const proof = await back.proof('books', seq);
        expect(proof, `seq ${seq} on g1`).not.toBeNull();
        expect(verifyEntry(proof!, { chain: 'books', seq, hash: hashes.get(seq)! }), `seq ${seq} on g1`).toEqual({ ok: true });
      }
      // The seq g1 had sealed and lost holds g2's entry now, on g1 too.
      const retaken = await back.proof('books', unacked.seq!);
      expect(Buffer.from(retaken!.content, 'base64').toString()).toBe('given again');

      back.child.kill('SIGTERM');
      await exited(back);
      const verified = runCli(['verify', '--data', back.dataDir]);
      expect(verified.status, verified.output).toBe(0);
      if (!wiped)
        expect(verified.output).toMatch(/blocks never acknowledged by the standby, removed, superseded by failover at token \d+ \(taken over by "g2"/);
    },
    180_000,
  );
});
