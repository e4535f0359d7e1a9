// Standby replicas between two real gateways (docs/replicas.md parts 3 and
// 4): two gateway processes on 127.0.0.1 ("machines" m1 and m2), real etcd,
// `fleet.replicas: 1`; each names the other its standby. A client streams to
// g1: its `committed` arrives only once g2's store holds the seal; g2
// SIGSTOPped → `wait` answers busy naming g2 and the setting, `alone` sends
// `committed` with `alone: true` (and says so in etcd); SIGCONT → g2 catches
// up and everything held is released. The store's half is the real one: g1's
// seals read by its ledger's reader threads, stored on g2 by its sealer's
// `replicate`; g2's store then reads back every committed entry of g1 with a
// proof that verifies (src/client/verify.ts).
import { describe, expect, it } from 'vitest';
import { verifyEntry, type EntryProof } from '../../src/client/index.js';
import { EtcdClient } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd } from '../helpers/index.js';
import {
  acceptedFrame,
  acceptedHashes,
  answerTo,
  committedUpTo,
  FAILOVER,
  newPrefix,
  pair,
  saying,
  startReplicaGateway,
  stream,
  streamWhenServed,
  until,
  type ErrorBody,
  type GatewayProcess,
  type Reply,
} from './gateway-process.js';

describe('standby replicas between two gateways', () => {
  it("every entry g1 reported committed is in g2's store, read back with a proof that verifies", async () => {
    const { g1, g2 } = await pair('wait');
    const client = await stream(g1.port, 'ledger');
    const frames: Reply[] = [];
    for (let i = 0; i < 20; i++) frames.push(await acceptedFrame(client, [`entry ${i}a`, `entry ${i}b`, `entry ${i}c`]));
    const last = frames.at(-1)!;
    await until('all committed', () => committedUpTo(client.replies) >= last.seq! + last.count! - 1);
    const highest = Math.max(...client.replies.filter((r) => r.type === 'committed').map((r) => r.directory!));
    expect(await g2.position('g1')).toBeGreaterThanOrEqual(highest);
    for (const frame of frames) {
      for (let i = 0; i < frame.count!; i++) {
        const seq = frame.seq! + i;
        const proof = await g2.proof('ledger', seq);
        expect(proof, `seq ${seq} on the standby`).not.toBeNull();
        const hash = Buffer.from(frame.hashes!.subarray(i * 32, (i + 1) * 32)).toString('hex');
        expect(verifyEntry(proof!, { chain: 'ledger', seq, hash })).toEqual({ ok: true });
      }
    }
    // Nothing beyond what g1 accepted: the seq after the last is not on g2.
    expect(await g2.proof('ledger', last.seq! + last.count!)).toBeNull();
  });

  it("committed only once the standby's store holds the seal; standby stopped → wait answers busy naming it; SIGCONT → it catches up and the held notices go out", async () => {
    const { g1, g2 } = await pair('wait');
    const client = await stream(g1.port, 'shop');
    const first = await acceptedFrame(client, ['a', 'b', 'c']);
    await until('committed', () => committedUpTo(client.replies) >= first.seq! + 2);
    const notice = client.replies.find((r) => r.type === 'committed')!;
    expect(notice.alone).toBeUndefined();
    // The standby acknowledged it, so its store held the seal before the notice was sent.
    expect(await g2.position('g1')).toBeGreaterThanOrEqual(notice.directory!);

    g2.child.kill('SIGSTOP');
    const held = await acceptedFrame(client, ['d', 'e']);
    // Kafka's high watermark: what the standby may not hold is not served — not the entries, their block, their
    // directory, nor a signed head covering it — though g1 has sealed it (sealed here, the seal is waiting for g2).
    await until('the held frame sealed on g1', async () => (await g1.sealedHeight()) > notice.directory!);
    const base = `http://127.0.0.1:${g1.port}`;
    const entry = await fetch(`${base}/v1/chains/shop/entries/${held.seq!}`);
    expect(entry.status).toBe(404);
    expect(((await entry.json()) as ErrorBody).error.message).toMatch(/is not committed yet/);
    const block = await fetch(`${base}/v1/chains/shop/blocks/1`);
    expect(block.status).toBe(404);
    expect(((await block.json()) as ErrorBody).error.message).toMatch(/^no block 1 of chain "shop" committed yet \(the highest committed is 0\)/);
    const directory = await fetch(`${base}/v1/directory/${notice.directory! + 1}`);
    expect(directory.status).toBe(404);
    expect(((await directory.json()) as ErrorBody).error.message).toMatch(/^no directory block \d+ committed yet/);
    const head = (await (await fetch(`${base}/v1/directory/head`)).json()) as { size: number };
    expect(head.size).toBeLessThanOrEqual(notice.directory! + 1);
    // What was committed is served, with a proof that verifies.
    const readable = (await (await fetch(`${base}/v1/chains/shop/entries/${first.seq!}`)).json()) as EntryProof;
    expect(verifyEntry(readable, { chain: 'shop', seq: first.seq! })).toEqual({ ok: true });
    // Until g1 calls g2 lost, frames are still accepted; after it, busy naming g2 and the setting.
    let busy: Reply | undefined;
    await until(
      'busy naming the standby',
      () => {
        const frame = client.send(['x']);
        return until(`answer ${frame}`, () => answerTo(client.replies, frame) !== undefined).then(() => {
          const answer = answerTo(client.replies, frame)!;
          if (answer.type === 'error') busy = answer;
          return answer.type === 'error';
        });
      },
      30_000,
    );
    expect(busy!.code).toBe('busy');
    expect(busy!.message).toMatch(/(standby "g2" lost|no standby is named for this gateway) \d+\.\d s ago \(fleet\.whenStandbyLost: wait\)/);
    // Nothing sealed while g2 is stopped was reported committed.
    expect(committedUpTo(client.replies)).toBeLessThan(held.seq!);
    const replica = (await g1.healthz()).fleet!.replica!;
    expect(replica.state).toBe('lost');
    expect(['g2', null]).toContain(replica.standby); // null once g2's lease expired in etcd (its standby/g1 goes with it)
    expect(replica.since).toBeGreaterThan(Date.now() - 60_000); // ms since the epoch
    expect(replica.since).toBeLessThanOrEqual(Date.now());
    expect(replica.behind).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${g1.port}/metrics`)).text();
    expect(metrics).toMatch(/^chainlanes_fleet_replica_lost 1$/m);
    expect(Number(/^chainlanes_fleet_replica_behind_seals (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    g2.child.kill('SIGCONT');
    await until('the held notices released', () => committedUpTo(client.replies) >= held.seq! + 1, 40_000);
    const after = await acceptedFrame(client, ['f']);
    await until('committed again', () => committedUpTo(client.replies) >= after.seq!);
    // Once released, the held entry is readable on g1 too, with a proof that verifies.
    const released = (await (await fetch(`${base}/v1/chains/shop/entries/${held.seq!}`)).json()) as EntryProof;
    expect(verifyEntry(released, { chain: 'shop', seq: held.seq!, hash: Buffer.from(held.hashes!.subarray(0, 32)).toString('hex') })).toEqual({ ok: true });
    expect(client.replies.filter((r) => r.type === 'committed').every((r) => r.alone === undefined)).toBe(true);
    await until('in step', async () => (await g1.healthz()).fleet?.replica?.state === 'in-step');
    const metrics2 = await (await fetch(`http://127.0.0.1:${g1.port}/metrics`)).text();
    expect(metrics2).toMatch(/^chainlanes_fleet_replica_lost 0$/m);
  });

  it('alone: with the standby stopped, committed goes out with alone: true once replica/g1 is in etcd; back in step after SIGCONT', async () => {
    const { etcd, prefix, g1, g2 } = await pair('alone');
    const client = await stream(g1.port, 'solo');
    const first = await acceptedFrame(client, ['a']);
    await until('committed', () => committedUpTo(client.replies) >= first.seq!);
    g2.child.kill('SIGSTOP');
    const lonely = await acceptedFrame(client, ['b', 'c']);
    await until('committed alone', () => committedUpTo(client.replies) >= lonely.seq! + 1, 30_000);
    const notice = client.replies.filter((r) => r.type === 'committed').at(-1)!;
    expect(notice.alone).toBe(true);
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => root.close());
    const record = (await root.range(`${prefix}replica/g1`)).kvs[0];
    expect(JSON.parse(record!.value.toString('utf8'))).toMatchObject({ alone: true });
    expect((await g1.healthz()).fleet!.replica!.state).toBe('alone');

    g2.child.kill('SIGCONT');
    await until('in step', async () => (await g1.healthz()).fleet?.replica?.state === 'in-step', 40_000);
    await until('replica/g1 deleted', async () => (await root.range(`${prefix}replica/g1`)).kvs.length === 0);
    const later = await acceptedFrame(client, ['d']);
    await until('committed', () => committedUpTo(client.replies) >= later.seq!);
    expect(client.replies.filter((r) => r.type === 'committed').at(-1)!.alone).toBeUndefined();
    expect(await g2.position('g1')).toBeGreaterThanOrEqual(client.replies.filter((r) => r.type === 'committed').at(-1)!.directory!);
  });
});

describe('failover: the standby takes the chains of an owner killed with -9', () => {
  // Through HAProxy, ten times in a row, with the client package: test/replicas/kills.test.ts.
  it('every entry reported committed reads back from the new owner with a proof that verifies; no seq given twice; new frames go on from the replicated seqs', async () => {
    // g1 (the owner killed) waits for its standby; g2 goes on alone once g1, its own standby, is gone.
    const { etcd, prefix, g1, g2 } = await pair('wait', 'alone', FAILOVER);
    // The chain is claimed on g1 (its first frame sent there), then written on a second stream.
    const claim = await stream(g1.port, 'flood');
    const firstAccepted = await acceptedFrame(claim, ['first']);
    let client: Awaited<ReturnType<typeof stream>> | undefined;
    await until('a stream to the owner', async () => {
      client = await stream(g1.port, 'flood').catch(() => undefined);
      if (client === undefined) return false;
      const answer = await acceptedFrame(client, ['second']).catch(() => null);
      if (answer === null) client = undefined;
      return client !== undefined;
    });
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => root.close());
    const ownerOf = async (): Promise<string> =>
      (JSON.parse((await root.range(`${prefix}chains/flood`)).kvs[0]!.value.toString('utf8')) as { gateway: string }).gateway;
    expect(await ownerOf()).toBe('g1');
    const [owner, survivor] = [g1, g2];
    // A flood: frames sent without waiting, until the owner dies under it.
    let sent = 0;
    const flood = setInterval(() => {
      if (owner.child.exitCode === null && owner.child.signalCode === null) {
        client!.send([`e${sent}a`, `e${sent}b`, `e${sent}c`]);
        sent++;
      }
    }, 2);
    registerCleanup('the flood', () => clearInterval(flood));
    await until('a few hundred entries committed', () => committedUpTo(client!.replies) >= 300, 60_000);
    owner.child.kill('SIGKILL');
    await new Promise<void>((resolve) => owner.child.once('exit', () => resolve()));
    clearInterval(flood);
    const committed = committedUpTo(client!.replies);
    expect(committed).toBeGreaterThanOrEqual(300);
    // Each seq's hash as the owner accepted it.
    const hashes = acceptedHashes([...claim.replies, ...client!.replies]);
    expect(hashes.get(firstAccepted.seq!)).toBeDefined();

    // The survivor takes the chain over once the owner's lease expires. Until then a stream to it is refused (421
    // naming the owner), frames `moved`.
    let after: Awaited<ReturnType<typeof stream>> | undefined;
    let next: Reply | undefined;
    await saying(
      survivor,
      until(
        `${survivor.id} accepts frames of the chain`,
        async () => {
          after ??= await stream(survivor.port, 'flood').catch(() => undefined);
          if (after === undefined) return false;
          const frame = after.send(['after the failover']);
          await until(`answer ${frame}`, () => answerTo(after!.replies, frame) !== undefined);
          const answer = answerTo(after.replies, frame)!;
          if (answer.type === 'accepted') next = answer;
          else expect(['moved', 'busy', 'unavailable']).toContain(answer.code);
          if (answer.code === 'moved') after = undefined; // a stream opened before the takeover: open another
          return next !== undefined;
        },
        60_000,
      ),
    );
    // No seq given twice: the survivor goes on after every seq the owner reported committed (seqs it accepted but
    // never committed may be given again — they were never durable on both, and nobody was told they were).
    expect(next!.seq).toBeGreaterThan(committed);
    await until('the new frame committed', () => committedUpTo(after!.replies) >= next!.seq!, 30_000);
    expect(after!.replies.find((r) => r.type === 'committed')!.alone).toBe(true);

    // Every entry the owner reported committed reads back, with a proof that verifies and the owner's hash.
    const base = `http://127.0.0.1:${survivor.port}`;
    for (let seq = 0; seq <= committed; seq++) {
      const response = await fetch(`${base}/v1/chains/flood/entries/${seq}`);
      expect(response.status, `seq ${seq}`).toBe(200);
      const proof = (await response.json()) as EntryProof;
      expect(verifyEntry(proof, { chain: 'flood', seq, hash: hashes.get(seq)! }), `seq ${seq}`).toEqual({ ok: true });
    }
    // etcd says who took over, from which seal, and that the chain is the survivor's; standby/{owner} is released.
    const takeover = JSON.parse((await root.range(`${prefix}takeover/${owner.id}`)).kvs[0]!.value.toString('utf8')) as { by: string; acked: number };
    expect(takeover.by).toBe(survivor.id);
    expect(takeover.acked).toBeGreaterThanOrEqual(0);
    expect(await ownerOf()).toBe(survivor.id);
    await until(`standby/${owner.id} released`, async () => (await root.range(`${prefix}standby/${owner.id}`)).kvs.length === 0);
  }, 120_000);

  it('with three gateways the new owner ships the chains it took to its own standby, which first pulls their older blocks: committed without going alone; then the new owner is killed too, and the last one goes on', async () => {
    const etcd = await startEtcd();
    const prefix = newPrefix();
    // `alone`: the last survivor has no standby left; while one is in step nothing is sent alone.
    // One after another (a concurrent start is the naming test's, test/fleet/standby.test.ts): g3 joins last, g2 moves to
    // it (its ring-next) and g1, given up, gets g3.
    const gateways: GatewayProcess[] = [];
    for (const [i, id] of ['g1', 'g2', 'g3'].entries()) gateways.push(await startReplicaGateway(etcd, prefix, id, `m${i + 1}`, 'alone', FAILOVER));
    const byId = new Map(gateways.map((g) => [g.id, g]));
    const standbyOf = async (g: GatewayProcess): Promise<string | null> => {
      const replica = (await g.healthz()).fleet?.replica;
      return replica?.stream === 'shipping' ? (replica.standby as string) : null;
    };
    const g1 = byId.get('g1')!;
    await until('g1 ships to its standby', async () => (await standbyOf(g1)) !== null, 60_000).catch(async (error: unknown) => {
      // Seen once on a loaded machine and not understood yet: what each gateway says of its standby, for the next look.
      for (const g of gateways) console.error(`${g.id} /healthz fleet:`, JSON.stringify((await g.healthz()).fleet));
      throw error;
    });
    const taker = byId.get((await standbyOf(g1))!)!;
    const client = await stream(g1.port, 'ring');
    const frames: Reply[] = [];
    for (let i = 0; i < 10; i++) frames.push(await acceptedFrame(client, [`r${i}a`, `r${i}b`]));
    await until('committed on g1', () => committedUpTo(client.replies) >= frames.at(-1)!.seq! + 1);
    g1.child.kill('SIGKILL');
    const after = await streamWhenServed(taker, 'ring');
    // The taker's standby: the third gateway (a ring g1 → taker → it), or — if the taker's standby was g1 — the third
    // one, which names itself once g1 is gone. Either way it never held the chain's blocks g1 sealed.
    await until(
      `${taker.id} ships to a standby other than g1`,
      async () => {
        const standby = await standbyOf(taker);
        return standby !== null && standby !== 'g1';
      },
      60_000,
    );
    const next = byId.get((await standbyOf(taker))!)!;
    const first = await acceptedFrame(after!, ['taken over']);
    expect(first.seq).toBe(frames.at(-1)!.seq! + 2);
    // Committed only once the taker's standby holds the seal — which lists the chain's block at a height it never
    // saw sealed: it pulled the older blocks (sealed by g1) from the taker's export first.
    await until('committed on the taker', () => committedUpTo(after!.replies) >= first.seq!, 60_000);
    const notice = after!.replies.find((r) => r.type === 'committed')!;
    expect(notice.alone).toBeUndefined();
    expect(await next.position(taker.id)).toBeGreaterThanOrEqual(notice.directory!);
    for (let seq = 0; seq <= first.seq!; seq++) {
      const proof = await next.proof('ring', seq);
      expect(proof, `seq ${seq} on ${next.id}`).not.toBeNull();
      expect(verifyEntry(proof!, { chain: 'ring', seq }), `seq ${seq} on ${next.id}`).toEqual({ ok: true });
    }

    // The kill again: the taker dies under more frames; its standby (which pulled the chain) takes it over in turn.
    const more: Reply[] = [];
    for (let i = 0; i < 5; i++) more.push(await acceptedFrame(after!, [`s${i}`]));
    await until('committed on the taker', () => committedUpTo(after!.replies) >= more.at(-1)!.seq!, 60_000);
    const committed = committedUpTo(after!.replies);
    taker.child.kill('SIGKILL');
    const last = await streamWhenServed(next, 'ring');
    const third = await acceptedFrame(last!, ['taken over again']);
    expect(third.seq).toBe(committed + 1); // nothing was in flight on the taker: it goes on exactly after the last committed seq
    await until(`committed on ${next.id}`, () => committedUpTo(last!.replies) >= third.seq!, 60_000);
    expect(last!.replies.find((r) => r.type === 'committed')!.alone).toBe(true); // no gateway left to stand by
    // Every seq, from g1's, the taker's and its own, reads back from the last one over HTTP with a proof that verifies.
    for (let seq = 0; seq <= third.seq!; seq++) {
      const proof = (await (await fetch(`http://127.0.0.1:${next.port}/v1/chains/ring/entries/${seq}`)).json()) as EntryProof;
      expect(verifyEntry(proof, { chain: 'ring', seq }), `seq ${seq} on ${next.id}`).toEqual({ ok: true });
    }
  }, 180_000);
});
