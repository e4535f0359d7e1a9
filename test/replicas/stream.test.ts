// The shipping stream (docs/replicas.md part 3) between real parts: an owner's
// store on disk sealing real blocks (its seals read back as it would ship
// them), the Shipper over a real WebSocket to a real uWS app serving
// `GET /v1/replica/{owner}/stream` with the admin key, and a standby's sink
// that stores each seal in a second real store (Ledger.replicate: checked,
// one transaction) before it answers `durable`. Then the attacks: no key,
// garbage, a tampered seal, a skipped seal, more than K in flight, a message
// over the bound — each refused by name, nothing of it stored, the route
// still serving.
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import WebSocket from 'ws';
import { Credits, newKey } from '../../src/credits/index.js';
import { addReplicaRoute, type ReplicaStreams } from '../../src/http/index.js';
import { ENTRY_BLOCK_HEADER_BYTES, Ledger, type ReplicatedSeals } from '../../src/ledger/index.js';
import {
  MAX_SEALS_IN_FLIGHT,
  Shipper,
  StandbySession,
  StandbyStreams,
  decodeMessage,
  encodeMessage,
  type SealMessage,
  type SealSink,
  type SealSource,
} from '../../src/replicas/index.js';
import { loadUws } from '../../src/uws/index.js';
import { makeBlock, registerCleanup, tempDir } from '../helpers/index.js';
import { listenApp } from '../helpers/uws-app.js';

const quiet = pino({ level: 'silent' });
const OWNER = { id: 'g1', key: 'ab'.repeat(32) };
const CHAINS = ['bank', 'other', 'third'];
const MAX_MESSAGE_BYTES = 256 * 1024;

/** An owner's real store: `seal(n)` seals n more directories of one or two blocks each, over three chains. */
async function ownerStore(): Promise<{ ledger: Ledger; seal(n: number): Promise<void>; highest(): number }> {
  const ledger = await Ledger.open(tempDir('chainlanes-replicas-owner-'));
  registerCleanup('owner store', () => ledger.close());
  const next = new Map<string, number>();
  let sealed = 0;
  let at = 1_700_000_000_000;
  return {
    ledger,
    highest: () => sealed - 1,
    async seal(n) {
      for (let i = 0; i < n; i++, sealed++) {
        const chains = sealed % 3 === 0 ? [CHAINS[0]!, CHAINS[1]!] : [CHAINS[sealed % 3]!];
        const blocks = chains.map((chain) => {
          const first = next.get(chain) ?? 0;
          const count = 1 + (sealed % 4);
          next.set(chain, first + count);
          return makeBlock(chain, first, count);
        });
        await ledger.seal({ blocks, sealedAt: (at += 1000) });
      }
    },
  };
}

/** The owner's seals as shipped: the store's own reading of seal n (what its reader threads answer), no head key (heads off). */
function sealSource(owner: { ledger: Ledger; highest(): number }, onRead: (height: number) => void = () => undefined): SealSource {
  return {
    highest: () => owner.highest(),
    read(height) {
      onRead(height);
      const seal = owner.ledger.shippedSeal(height);
      if (seal === null) return Promise.reject(new Error(`no seal ${height}`));
      return Promise.resolve({ ...seal, headKey: null, credits: null });
    },
  };
}

/**
 * A standby's sink on a real store: the seals of each call stored by
 * Ledger.replicateSeals (checked, one transaction), then acknowledged.
 * `paused`: a call waits for `step()`, then stores only its first seal (a
 * sink may hold a prefix; the session offers the rest again).
 */
class StoreSink implements SealSink {
  readonly stored: number[] = [];
  /** How many seals each call stored. */
  readonly batches: number[] = [];
  paused = false;
  private waiting: (() => void)[] = [];

  constructor(readonly ledger: Ledger) {}

  position(): number {
    return this.ledger.replicaPosition(OWNER.id).acked;
  }

  step(): void {
    this.waiting.shift()?.();
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** One call at a time, as the ledger's replicate goes through the sealer (one writer). */
  private tail: Promise<unknown> = Promise.resolve();

  replicate(owner: string, seals: SealMessage[]): Promise<ReplicatedSeals> {
    const run = this.tail.then(() => this.replicateNow(owner, seals));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async replicateNow(owner: string, seals: SealMessage[]): Promise<ReplicatedSeals> {
    let batch = seals;
    if (this.paused) {
      batch = seals.slice(0, 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    const result = await this.ledger.replicateSeals({ ...OWNER, id: owner, headKey: seals[0]!.headKey }, batch);
    for (let height = (this.stored.at(-1) ?? -1) + 1; height <= result.acked; height++) this.stored.push(height);
    this.batches.push(batch.length);
    return result;
  }
}

interface Standby {
  url: string;
  adminKey: string;
  sink: StoreSink;
  ledger: Ledger;
  /** The sockets of the streams opened, in order. */
  sockets: { close(code: number, reason: string): void }[];
}

async function standby(maxQueuedBytes = MAX_MESSAGE_BYTES): Promise<Standby> {
  const ledger = await Ledger.open(tempDir('chainlanes-replicas-standby-'));
  registerCleanup('standby store', () => ledger.close());
  const adminKey = newKey();
  const credits = await Credits.open(ledger.environment, { adminKey, nextSeqOf: () => 0, nextDirectoryHeight: () => 0 });
  const sink = new StoreSink(ledger);
  const sockets: Standby['sockets'] = [];
  const streams = new StandbyStreams({ store: 'standby-store', sink, standsBy: (owner) => owner === OWNER.id, maxBlocks: 1_000, maxQueuedBytes });
  const route: ReplicaStreams = {
    refusal: (owner) => streams.refusal(owner),
    open(owner, socket) {
      sockets.push(socket);
      return streams.open(owner, socket);
    },
  };
  const app = loadUws().App();
  addReplicaRoute(app, { log: quiet, credits, streams: route, maxMessageBytes: MAX_MESSAGE_BYTES, guard: null });
  const port = await listenApp(app);
  return { url: `http://127.0.0.1:${port}`, adminKey, sink, ledger, sockets };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function shipper(
  source: SealSource,
  target: Standby,
  durable: number[],
  onDurable: (height: number) => void = () => undefined,
  pingEveryMs?: number,
  maxInFlightBytes = MAX_MESSAGE_BYTES,
): Shipper {
  const s = new Shipper({
    owner: OWNER.id,
    ...(pingEveryMs === undefined ? {} : { pingEveryMs }),
    source,
    adminKey: target.adminKey,
    maxInFlightBytes,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    onDurable: (height) => {
      onDurable(height);
      durable.push(height);
    },
  });
  registerCleanup('shipper', () => s.stop());
  return s;
}

/** Every chain's blocks on the standby are the owner's records byte for byte, as far as the owner exported them. */
function expectSameBlocks(owner: Ledger, standbyStore: Ledger): void {
  for (const chain of CHAINS) {
    const mine = owner.exportBlocks(chain, 0, 1 << 30, OWNER).blocks;
    const theirs = standbyStore.exportBlocks(chain, 0, 1 << 30, { id: 'g2', key: 'cd'.repeat(32) }).blocks;
    expect(theirs.length, chain).toBe(mine.length);
    theirs.forEach((b, i) => {
      // Byte for byte but for the directory-height field, which marks a block the standby did not seal itself (records.ts).
      const field = 1 + ENTRY_BLOCK_HEADER_BYTES;
      expect(
        Buffer.from(b.record)
          .subarray(field, field + 8)
          .equals(Buffer.alloc(8, 0xff)),
        `${chain} block ${i} marked`,
      ).toBe(true);
      const [x, y] = [Buffer.from(b.record), Buffer.from(mine[i]!.record)];
      x.fill(0, field, field + 8);
      y.fill(0, field, field + 8);
      expect(x.equals(y), `${chain} block ${i}`).toBe(true);
      // The standby serves the owner's directory proof, naming the owner.
      expect(b.proof).toEqual(mine[i]!.proof);
    });
  }
}

describe('the shipping stream', () => {
  it("ships every seal byte for byte; `durable n` comes only after the standby's store holds seal n; new seals follow", async () => {
    const owner = await ownerStore();
    await owner.seal(12);
    const target = await standby();
    const durable: number[] = [];
    // At the moment each acknowledgement reaches the owner, the standby's store holds that seal and every one before it.
    const early: number[] = [];
    const s = shipper(sealSource(owner), target, durable, (height) => {
      if (target.sink.stored.length <= height || target.ledger.chain('bank') === null) early.push(height);
    });
    s.follow({ id: 'g2', url: target.url });
    await until('seal 11 durable', () => durable.at(-1) === 11);
    expect(durable).toEqual([...durable].sort((a, b) => a - b));
    expect(early).toEqual([]);
    expect(s.state).toBe('shipping');
    await owner.seal(3);
    s.sealed();
    await until('seal 14 durable', () => durable.at(-1) === 14);
    expect(target.sink.stored).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expectSameBlocks(owner.ledger, target.ledger);
  });

  it('seals that arrive while one is stored are stored together next, in one call: each acknowledged once, in order', async () => {
    const owner = await ownerStore();
    await owner.seal(12);
    const target = await standby();
    target.sink.paused = true;
    const durable: number[] = [];
    const s = shipper(sealSource(owner), target, durable);
    s.follow({ id: 'g2', url: target.url });
    // Seal 0 waits in the sink while the rest of the window arrives.
    await until('the window full', () => s.inFlight === MAX_SEALS_IN_FLIGHT && target.sink.queued === 1);
    target.sink.paused = false;
    target.sink.step();
    await until('seal 11 durable', () => durable.at(-1) === 11);
    expect(target.sink.batches[0]).toBe(1);
    // Seals 1–7 were queued behind seal 0: the next call held all seven.
    expect(target.sink.batches[1]).toBe(MAX_SEALS_IN_FLIGHT - 1);
    expect(target.sink.stored).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(durable).toEqual([...new Set(durable)].sort((a, b) => a - b));
    expectSameBlocks(owner.ledger, target.ledger);
  });

  it('never more than K seals unacknowledged, and the owner reads no seal more than K ahead of what the standby holds', async () => {
    const owner = await ownerStore();
    await owner.seal(30);
    const target = await standby();
    target.sink.paused = true;
    const durable: number[] = [];
    const violations: string[] = [];
    let mostAhead = 0;
    const source = sealSource(owner, (height) => {
      const ahead = height - target.sink.position();
      mostAhead = Math.max(mostAhead, ahead);
      if (ahead > MAX_SEALS_IN_FLIGHT) violations.push(`read seal ${height} with the standby at ${target.sink.position()}`);
    });
    const s = shipper(source, target, durable);
    s.follow({ id: 'g2', url: target.url });
    await until('the window full', () => s.inFlight === MAX_SEALS_IN_FLIGHT && target.sink.queued === 1);
    expect(s.reads).toBe(MAX_SEALS_IN_FLIGHT);
    // One seal at a time through the paused sink: the window slides, never grows.
    for (let n = 0; n < 30; n++) {
      await until(`seal ${n} waiting in the sink`, () => target.sink.queued === 1);
      target.sink.step();
      await until(`seal ${n} durable`, () => durable.at(-1) === n);
      expect(s.inFlight).toBeLessThanOrEqual(MAX_SEALS_IN_FLIGHT);
    }
    await until('seal 29 durable', () => durable.at(-1) === 29);
    expect(violations).toEqual([]);
    expect(mostAhead).toBe(MAX_SEALS_IN_FLIGHT);
    expect(s.reads).toBe(30);
  });

  it("a dropped stream is opened again with back-off, and goes on from where the standby's hello says (nothing shipped twice)", async () => {
    const owner = await ownerStore();
    await owner.seal(20);
    const target = await standby();
    target.sink.paused = true;
    const durable: number[] = [];
    const s = shipper(sealSource(owner), target, durable);
    s.follow({ id: 'g2', url: target.url });
    for (let i = 0; i < 5; i++) {
      await until('a seal waiting', () => target.sink.queued === 1);
      target.sink.step();
    }
    await until('seal 4 durable', () => durable.at(-1) === 4);
    // The standby drops the stream (a restart, a network fault): seals sent and not stored are lost with it.
    target.sockets[0]!.close(1001, 'going away');
    target.sink.paused = false;
    while (target.sink.queued > 0) target.sink.step();
    await until('seal 19 durable', () => durable.at(-1) === 19);
    expect(target.sockets.length).toBeGreaterThanOrEqual(2);
    // The seals still queued on the first stream were stored before it noticed; the rest came on the next one, each once.
    expect(target.sink.stored).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expectSameBlocks(owner.ledger, target.ledger);
  });

  it('bytes in flight are bounded too: the owner sends a seal only when the window has room for its bytes, and one over the bound never', async () => {
    const owner = await ownerStore();
    await owner.seal(12);
    const sizes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        sealSource(owner)
          .read(i)
          .then((seal) => encodeMessage({ type: 'seal', ...seal }).byteLength),
      ),
    );
    // Room for about two seals: the standby would refuse a third queued (too_many_seals), so the owner must wait for acknowledgements.
    const bound = Math.max(...sizes) * 2 + 1;
    const target = await standby(bound);
    target.sink.paused = true;
    const durable: number[] = [];
    const s = shipper(sealSource(owner), target, durable, undefined, undefined, bound);
    s.follow({ id: 'g2', url: target.url });
    let mostInFlight = 0;
    for (let n = 0; n < 12; n++) {
      await until(`seal ${n} waiting in the sink`, () => target.sink.queued === 1);
      expect(s.inFlightBytes).toBeLessThanOrEqual(bound);
      mostInFlight = Math.max(mostInFlight, s.inFlight);
      target.sink.step();
      await until(`seal ${n} durable`, () => durable.at(-1) === n);
    }
    expect(mostInFlight).toBeLessThan(MAX_SEALS_IN_FLIGHT); // the bytes, not the count, held the owner back
    expect(target.sockets.length).toBe(1); // never refused, never reopened
    expect(target.sink.stored).toEqual(Array.from({ length: 12 }, (_, i) => i));

    // A seal larger than the bound is never sent: the stream is refused naming it, and nothing past it reaches the standby.
    const small = await standby();
    const refused = shipper(sealSource(owner), small, [], undefined, undefined, Math.min(...sizes) - 1);
    refused.follow({ id: 'g2', url: small.url });
    await until('refused', () => refused.state === 'refused' && /seal 0 is \d+ bytes, over the stream's bound/.test(refused.detail));
    expect(small.sink.stored).toEqual([]);
  });

  it('a stream that goes silent (a partition between owner and standby) is dropped by the ping and opened again once the path is back', async () => {
    const owner = await ownerStore();
    await owner.seal(10);
    const target = await standby();
    const path = await relay(target.url);
    const durable: number[] = [];
    const s = shipper(sealSource(owner), target, durable, undefined, 100);
    s.follow({ id: 'g2', url: path.url });
    await until('seal 9 durable', () => durable.at(-1) === 9);
    path.silent = true;
    await owner.seal(5);
    s.sealed();
    // Nothing gets through; the owner notices the unanswered ping and drops the stream (no silent hang).
    await until('the owner dropped the silent stream', () => path.closedByOwner >= 1);
    expect(durable.at(-1)).toBe(9);
    expect(s.state).not.toBe('shipping');
    path.silent = false;
    await until('seal 14 durable', () => durable.at(-1) === 14);
    expect(path.connections).toBeGreaterThanOrEqual(2);
    // The seals lost in the partition were sent again from the new hello, each stored once.
    expect(target.sink.stored).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });
});

/** A TCP relay in front of the standby that can go silent both ways (a partition) while keeping its connections open. */
async function relay(to: string): Promise<{ url: string; silent: boolean; connections: number; closedByOwner: number }> {
  const port = Number(new URL(to).port);
  const state = { url: '', silent: false, connections: 0, closedByOwner: 0 };
  const server = createServer((owner) => {
    state.connections++;
    const standbySide = connect(port, '127.0.0.1');
    owner.on('data', (d) => {
      if (!state.silent) standbySide.write(d);
    });
    standbySide.on('data', (d) => {
      if (!state.silent) owner.write(d);
    });
    owner.on('close', () => {
      state.closedByOwner++;
      standbySide.destroy();
    });
    standbySide.on('close', () => owner.destroy());
    owner.on('error', () => undefined);
    standbySide.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup('the relay', () => new Promise<void>((resolve) => server.close(() => resolve())));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** A raw client of the route, as a hostile owner would be. */
async function raw(
  target: Standby,
  key: string | null,
  owner = OWNER.id,
): Promise<{ ws: WebSocket; messages: unknown[]; closed: Promise<number>; status: Promise<number> }> {
  const protocols = key === null ? ['chainlanes.v1'] : ['chainlanes.v1', `chainlanes.key.${key}`];
  const ws = new WebSocket(`${target.url.replace('http', 'ws')}/v1/replica/${owner}/stream`, protocols);
  const messages: unknown[] = [];
  let status = 101;
  ws.on('unexpected-response', (_req, res) => {
    status = res.statusCode ?? 0;
    ws.terminate();
  });
  ws.on('message', (data: Buffer) => messages.push(decodeMessage(data, 0)));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise<number>((resolve) => {
    ws.on('open', () => resolve(101));
    ws.on('close', () => resolve(status));
  });
  await opened;
  return { ws, messages, closed, status: Promise.resolve(status) };
}

async function sealsOf(count: number): Promise<Omit<SealMessage, 'type'>[]> {
  const owner = await ownerStore();
  await owner.seal(count);
  const source = sealSource(owner);
  return Promise.all(Array.from({ length: count }, (_, i) => source.read(i)));
}

describe('the replica route refuses', () => {
  it('a stream without the admin key, or for an owner it does not stand by for', async () => {
    const target = await standby();
    expect(await (await raw(target, null)).status).toBe(401);
    expect(await (await raw(target, newKey())).status).toBe(401);
    expect(await (await raw(target, target.adminKey, 'g9')).status).toBe(403);
    expect(await (await raw(target, target.adminKey, '%ff%fe')).status).toBe(403);
    expect(await (await raw(target, target.adminKey)).status).toBe(101);
  });

  it('a second stream of the same owner replaces the first (a half-open one the owner gave up on): one stream per owner', async () => {
    const target = await standby();
    const first = await raw(target, target.adminKey);
    await until('hello', () => first.messages.length === 1);
    const second = await raw(target, target.adminKey);
    expect(await first.closed).toBe(1000);
    await until('hello on the second', () => second.messages.length === 1);
    expect(second.messages[0]).toMatchObject({ type: 'hello', owner: OWNER.id, acked: -1 });
    const seals = await sealsOf(1);
    second.ws.send(encodeMessage({ type: 'seal', ...seals[0]! }));
    await until('durable', () => second.messages.length === 2);
    expect(second.messages[1]).toEqual({ type: 'durable', directory: 0 });
  });

  it('garbage, a skipped seal, a tampered seal and more than K seals in flight — each by name, nothing of it stored, and the route serves on', async () => {
    const target = await standby();
    const seals = await sealsOf(10);
    const expectError = async (send: (ws: WebSocket) => void, code: string, match: RegExp): Promise<void> => {
      const c = await raw(target, target.adminKey);
      await until('hello', () => c.messages.length === 1);
      expect(c.messages[0]).toMatchObject({ type: 'hello', owner: OWNER.id, acked: target.sink.position() });
      send(c.ws);
      expect(await c.closed).toBe(4400);
      const error = c.messages.find((m) => (m as { type: string }).type === 'error') as { code: string; message: string };
      expect(error.code).toBe(code);
      expect(error.message).toMatch(match);
    };
    await expectError((ws) => ws.send(Buffer.from('not msgpack at all, just text bytes')), 'bad_message', /not a msgpack map|not msgpack/);
    await expectError((ws) => ws.send(encodeMessage({ type: 'durable', directory: 3 })), 'bad_message', /an owner sends seals and errors, not durable/);
    await expectError((ws) => ws.send(encodeMessage({ type: 'seal', ...seals[1]! })), 'out_of_step', /seal 1 came where seal 0 was expected/);
    const tampered = { ...seals[0]!, blocks: seals[0]!.blocks.map((b) => ({ chain: b.chain, record: Buffer.from(b.record) })) };
    tampered.blocks[0]!.record[tampered.blocks[0]!.record.length - 1]! ^= 1;
    await expectError((ws) => ws.send(encodeMessage({ type: 'seal', ...tampered })), 'refused', /seal of gateway "g1" at directory 0/);
    expect(target.sink.stored).toEqual([]);
    expect(target.ledger.chain('bank')).toBeNull();
    // More than K without waiting (the sink holds the first, so none is acknowledged).
    target.sink.paused = true;
    await expectError(
      (ws) => {
        for (let i = 0; i <= MAX_SEALS_IN_FLIGHT + 1; i++) ws.send(encodeMessage({ type: 'seal', ...seals[0]! }));
      },
      'too_many_seals',
      /more than 8 seals sent without waiting/,
    );
    target.sink.paused = false;
    while (target.sink.queued > 0) target.sink.step();
    // More bytes than the standby queues per owner, in two seals: refused by name.
    const tight = await standby(encodeMessage({ type: 'seal', ...seals[0]! }).byteLength + 10);
    const c = await raw(tight, tight.adminKey);
    await until('hello', () => c.messages.length === 1);
    tight.sink.paused = true;
    c.ws.send(encodeMessage({ type: 'seal', ...seals[0]! }));
    c.ws.send(encodeMessage({ type: 'seal', ...seals[1]! }));
    expect(await c.closed).toBe(4400);
    expect(c.messages.find((m) => (m as { type: string }).type === 'error')).toMatchObject({
      code: 'too_many_seals',
      message: expect.stringMatching(/bytes of seals sent without waiting for their acknowledgement \(at most \d+\)/),
    });
    tight.sink.paused = false;
    while (tight.sink.queued > 0) tight.sink.step();
    // A message over the bound is dropped by uWS before it is buffered whole.
    const big = await raw(target, target.adminKey);
    await until('hello', () => big.messages.length === 1);
    big.ws.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1));
    expect([1006, 1009]).toContain(await big.closed); // uWS may close without a close frame
    // The route still serves: a well-behaved owner ships the next seal (its hello waits for what an ended stream still stores).
    const good = await raw(target, target.adminKey);
    await until('hello', () => good.messages.length === 1);
    const at = (good.messages[0] as { acked: number }).acked;
    good.ws.send(encodeMessage({ type: 'seal', ...seals[at + 1]! }));
    await until('durable', () => good.messages.length === 2);
    expect(good.messages[1]).toEqual({ type: 'durable', directory: at + 1 });
    good.ws.close();
  });
});

describe('a standby session over a sink that misbehaves', () => {
  it('ends the stream (store_failed) when the sink holds none of a batch, rather than offering it again and again', async () => {
    const owner = await ownerStore();
    await owner.seal(2);
    const sent: unknown[] = [];
    const closed: string[] = [];
    let calls = 0;
    const sink: SealSink = {
      position: () => -1,
      replicate: () => {
        calls++;
        return Promise.resolve({ acked: -1 });
      },
    };
    const session = new StandbySession({
      owner: OWNER.id,
      store: 'standby-store',
      sink,
      socket: { send: (bytes) => sent.push(decodeMessage(bytes, 0)), close: (_code, reason) => closed.push(reason) },
      maxBlocks: 1_000,
      maxQueuedBytes: 1 << 30,
    });
    await session.hello();
    const seal = await sealSource(owner).read(0);
    session.message(encodeMessage({ type: 'seal', ...seal }));
    await until('the stream ended', () => closed.length === 1);
    expect(calls).toBe(1);
    expect(closed).toEqual(['store_failed']);
    expect(sent.at(-1)).toMatchObject({ type: 'error', code: 'store_failed', message: expect.stringMatching(/held none of the seals from 0/) });
  });
});
