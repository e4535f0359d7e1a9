// Admission, driven directly beside real lane pools (piscina workers hashing
// in the rings) and a real sealer thread sealing into a store: seqs and
// hashes, every refusal and that it leaves no trace, the bound on unsealed
// entries, block cuts, credits, and fair shares.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FairShare } from '../../src/balancer/index.js';
import { ADMIN, isRefusal } from '../../src/credits/index.js';
import { Rejection, Repeat, StoredRepeat, type PendingFrame } from '../../src/frontdoor/index.js';
import { encodeFrameId } from '../../src/protocol/index.js';
import { HEAVY, LIGHT, MEDIUM } from '../../src/ring/index.js';
import { RecordingOwner, admitted, hashesOf, payingOwner, startFrontDoor, type FrontDoor } from '../helpers/front-door.js';

/** `n` entries `${tag}-0`… : more than 4, so the frame goes to a lane worker rather than being hashed inline. */
function entries(tag: string, n = 8): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}-${i}`);
}

function frameOf(list: readonly (string | Uint8Array)[]): Uint8Array {
  return pack(list) as Uint8Array;
}

function refused(result: PendingFrame | Rejection | Repeat | StoredRepeat): Rejection {
  if (!(result instanceof Rejection)) throw new Error(`admitted at seq ${'seq' in result ? result.seq : '(stored)'}, expected a refusal`);
  return result;
}

/** What a refusal must leave untouched: seqs, chains, counters and every ring. */
function trace(door: FrontDoor): unknown {
  const { stats } = door.admission;
  return {
    chains: door.chains.all().map((c) => [c.name, c.nextSeq, c.blockFirstSeq]),
    slots: door.chainTable.count,
    accepted: [stats.framesAccepted, stats.entriesAccepted, stats.bytesAccepted],
    rings: door.pools.map((pool) => pool.view.loadHead()),
  };
}

describe('Admission', () => {
  it('gives each frame the next seqs of its chain and answers it with the hashes a lane worker wrote, a run of frames in one batch', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    const sent = Array.from({ length: 20 }, (_, f) => entries(`f${f}`, 5 + (f % 4)));
    // One event-loop turn: the lane takes them all in one task, and the owner is asked to send once.
    const frames = sent.map((list, f) => admitted(door.admission.admit('alpha', frameOf(list), owner, f)));
    let next = 0;
    frames.forEach((frame, f) => {
      expect(frame).toMatchObject({ frame: f, seq: next, count: sent[f]!.length });
      next += sent[f]!.length;
    });
    await door.pools[LIGHT]!.drain();
    expect(owner.accepted.map((a) => a.frame)).toEqual(sent.map((_, f) => f));
    owner.accepted.forEach((a, f) => expect(a.hashes).toEqual(hashesOf(sent[f]!)));
    expect(owner.batches).toEqual([20]);
    expect(door.pools[LIGHT]!.stats()).toMatchObject({ tasks: 1, inlineFrames: 0, entries: next });
    expect(door.admission.stats).toMatchObject({ framesAccepted: 20, entriesAccepted: next });
    await door.sealAll();
    expect(door.ledger.heads().chains).toEqual([expect.objectContaining({ chainName: 'alpha', nextSeq: next })]);
    expect(door.ledger.entryProof('alpha', next - 1)).toMatchObject({ hash: hashesOf(sent.at(-1)!).at(-1) });
  });

  it('hashes a small frame on an idle lane before admit returns', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    admitted(door.admission.admit('quick', frameOf(['one', 'two']), owner, 0));
    expect(owner.accepted).toEqual([{ frame: 0, seq: 0, count: 2, hashes: hashesOf(['one', 'two']) }]);
    expect(owner.batches).toEqual([1]);
    expect(door.pools[LIGHT]!.stats().inlineFrames).toBe(1);
  });

  it("keeps a chain's seqs contiguous and its entries intact when it moves lane between frames", async () => {
    const door = await startFrontDoor({ threads: 2 });
    const owner = new RecordingOwner();
    const sent: string[][] = [];
    const send = (): void => {
      sent.push(entries(`m${sent.length}`, 6));
      admitted(door.admission.admit(door.chains.get('mover') ?? 'mover', frameOf(sent.at(-1)!), owner, sent.length - 1));
    };
    for (let i = 0; i < 10; i++) send();
    const slot = door.chains.get('mover')!.slot;
    // What the scheduler does: the chain table now names another lane; frames already in the light ring stay there.
    door.chainTable.setLane(slot, HEAVY);
    for (let i = 0; i < 10; i++) send();
    door.chainTable.setLane(slot, MEDIUM);
    for (let i = 0; i < 10; i++) send();
    await door.sealAll();
    expect([LIGHT, HEAVY, MEDIUM].map((lane) => door.pools[lane]!.stats().entries)).toEqual([60, 60, 60]);
    const byFrame = [...owner.accepted].sort((a, b) => a.frame - b.frame);
    expect(byFrame.map((a) => a.seq)).toEqual(sent.map((_, f) => 6 * f));
    byFrame.forEach((a, f) => expect(a.hashes).toEqual(hashesOf(sent[f]!)));
    // The sealer took the chain's entries from three rings, in seq order.
    expect(door.ledger.heads().chains[0]).toMatchObject({ chainName: 'mover', nextSeq: 180 });
    for (const seq of [0, 59, 60, 119, 120, 179]) {
      expect(door.ledger.entryProof('mover', seq)).toMatchObject({ seq, hash: hashesOf([`m${Math.floor(seq / 6)}-${seq % 6}`])[0] });
    }
  });

  it('refuses a frame that is not protocol v1 or is too large, naming why, and leaves no trace', async () => {
    const door = await startFrontDoor({ limits: { maxFrameBytes: 4096, maxEntryBytes: 1024, maxEntriesPerFrame: 16 } });
    const owner = new RecordingOwner();
    admitted(door.admission.admit('kept', frameOf(entries('before')), owner, 0));
    const cases: [string, Uint8Array, string, RegExp][] = [
      ['a frame over maxFrameBytes', frameOf([Buffer.alloc(5000)]), 'too_large', /frame has \d+ bytes, more than the limit of 4096/],
      ['an entry over maxEntryBytes', frameOf([Buffer.alloc(2000)]), 'too_large', /entry 0 has 2000 bytes, more than the limit of 1024/],
      ['too many entries', frameOf(entries('many', 17)), 'too_large', /frame holds 17 entries, more than the limit of 16/],
      ['a map, not an array', pack({ not: 'an array' }) as Uint8Array, 'bad_frame', /expected an array of entries/],
      ['an empty array', frameOf([]), 'bad_frame', /frame holds no entries/],
      ['a number as an entry', pack(['ok', 7]) as Uint8Array, 'bad_frame', /entry 1 is a msgpack .*; entries must be bin or str/],
      ['a truncated frame', frameOf(entries('cut')).subarray(0, 20), 'bad_frame', /truncated msgpack/],
      ['bytes after the entries', Buffer.concat([frameOf(['a']), Buffer.from([0xc0])]), 'bad_frame', /1 bytes after the last of 1 entries/],
    ];
    for (const [what, bytes, code, message] of cases) {
      for (const chain of [door.chains.get('kept')!, 'never-made']) {
        const before = trace(door);
        const rejection = refused(door.admission.admit(chain, bytes, owner, 1));
        expect(rejection, what).toMatchObject({ code, message: expect.stringMatching(message) });
        expect(trace(door), what).toEqual(before);
      }
    }
    expect(door.chains.get('never-made')).toBeUndefined();
    expect(door.admission.stats.rejected).toMatchObject({ too_large: 6, bad_frame: 10 });
    // The next good frame takes the next seq: the refusals used none.
    admitted(door.admission.admit(door.chains.get('kept')!, frameOf(entries('after')), owner, 2));
    await door.sealAll();
    expect(owner.accepted.map((a) => a.seq)).toEqual([0, 8]);
    expect(door.ledger.heads().chains).toEqual([expect.objectContaining({ chainName: 'kept', nextSeq: 16 })]);
  });

  it('answers busy while shutting down and while seals keep failing, internal once the sealer is gone, each with its reason', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    const frame = frameOf(entries('x'));
    admitted(door.admission.admit('c', frame, owner, 0));
    const chain = door.chains.get('c')!;
    // Two failed seals are isolated failures; the third in a row is trouble (SealProgress's unhealthyAfter is 3).
    door.seals.failed('disk full');
    door.seals.failed('disk full');
    admitted(door.admission.admit(chain, frame, owner, 1));
    door.seals.failed('disk full');
    let before = trace(door);
    expect(refused(door.admission.admit(chain, frame, owner, 2))).toMatchObject({
      code: 'busy',
      message: 'the store is failing to seal: 3 seals failed in a row (last error: disk full); retry later',
    });
    expect(trace(door)).toEqual(before);
    door.seals.sealed(0, 1, 8);
    admitted(door.admission.admit(chain, frame, owner, 3));

    await door.pools[LIGHT]!.drain();
    await door.sealer.stop();
    before = trace(door);
    expect(refused(door.admission.admit(chain, frame, owner, 4))).toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/the sealer thread stopped/),
    });
    door.admission.close();
    expect(refused(door.admission.admit(chain, frame, owner, 5))).toMatchObject({ code: 'busy', message: 'the gateway is shutting down' });
    expect(trace(door)).toEqual(before);
    expect(door.admission.stats.rejected).toMatchObject({ busy: 2, internal: 1 });
  });

  it('answers busy when a lane ring is full, without a trace, while other lanes keep admitting', async () => {
    const door = await startFrontDoor({ ringBytes: 8192 });
    const owner = new RecordingOwner();
    const heavy = door.chains.getOrCreate('heavy-one')!;
    door.chainTable.setLane(heavy.slot, HEAVY);
    const big = (tag: string): Uint8Array => frameOf(Array.from({ length: 5 }, (_, i) => `${tag}-${i}-${'p'.repeat(200)}`));
    // All in one turn: no worker has hashed anything, so nothing can be freed meanwhile.
    let light = 0;
    let rejection: Rejection | null = null;
    while (rejection === null) {
      const before = trace(door);
      const result = door.admission.admit('filler', big(`l${light}`), owner, light);
      if (result instanceof Rejection) {
        rejection = result;
        expect(trace(door)).toEqual(before);
      } else light++;
    }
    expect(light).toBeGreaterThan(2);
    expect(rejection).toMatchObject({ code: 'busy', message: 'the light lane is full; retry later' });
    admitted(door.admission.admit(heavy, big('h'), owner, 0));
    await door.sealAll();
    expect(door.chains.get('filler')!.nextSeq).toBe(5 * light);
    // Space is freed as the sealer takes what was hashed: the lane admits again.
    admitted(door.admission.admit(door.chains.get('filler')!, big('again'), owner, light + 1));
  });

  it('refuses the chains that hold the unsealed backlog once it passes maxUnsealedBytes, and admits them again once it is sealed', async () => {
    const bound = 32 * 1024;
    const door = await startFrontDoor({ limits: { maxUnsealedBytes: bound } });
    const owner = new RecordingOwner();
    const held = (): number => door.sealer.pendingBytes();
    // About 4.5 KiB each as the sealer counts them: the quarter of the bound allowed above it is almost two.
    const frame = (tag: string): Uint8Array => frameOf(Array.from({ length: 8 }, (_, i) => `${tag}-${i}-${'q'.repeat(500)}`));
    admitted(door.admission.admit('small', frameOf(['hello']), owner, 0));
    await expect.poll(held, { timeout: 20_000, interval: 5 }).toBeGreaterThan(0);
    // No cut is sent, so the sealer holds everything it takes from the ring. One frame at a time, each
    // counted by the sealer before the next, so the backlog passes the bound by less than one frame.
    let sent = 0;
    while (held() <= bound) {
      const before = held();
      admitted(door.admission.admit(door.chains.get('flood') ?? 'flood', frame(`f${sent}`), owner, sent++));
      await expect.poll(held, { timeout: 20_000, interval: 5 }).toBeGreaterThan(before);
    }
    const flood = door.chains.get('flood')!;
    const before = trace(door);
    expect(refused(door.admission.admit(flood, frame('over'), owner, sent))).toMatchObject({
      code: 'busy',
      message: 'chain "flood" has too many entries waiting to be made durable; retry later',
    });
    expect(trace(door)).toEqual(before);
    // A chain holding little of the backlog goes on while the total is under 1.25 × the bound.
    expect(door.sealer.pendingBytes()).toBeLessThan(1.25 * bound);
    admitted(door.admission.admit(door.chains.get('small')!, frameOf(['still']), owner, 1));
    await door.sealAll();
    expect(door.sealer.pendingBytes()).toBe(0);
    admitted(door.admission.admit(flood, frame('after'), owner, sent + 1));
  });

  it('cuts blocks at maxBlockEntries inside frames and at each interval, seals them in order, and tells each writer once per block', async () => {
    const door = await startFrontDoor({ limits: { maxBlockEntries: 4 } });
    const [a, b] = [new RecordingOwner(), new RecordingOwner()];
    // Seqs 0-2 (a), 3-5 (b), 6-8 (a): blocks [0,4) and [4,8) are cut as the seqs are taken, [8,9) at the interval.
    admitted(door.admission.admit('blocks', frameOf(entries('a0', 3)), a, 0));
    admitted(door.admission.admit(door.chains.get('blocks')!, frameOf(entries('b0', 3)), b, 0));
    admitted(door.admission.admit(door.chains.get('blocks')!, frameOf(entries('a1', 3)), a, 1));
    await door.sealAll();
    expect(door.sealed.map((s) => [s.height, s.firstSeq, s.count])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
      [2, 8, 1],
    ]);
    await expect.poll(() => a.notices.length + b.notices.length, { timeout: 20_000 }).toBe(5);
    expect(a.notices.map((n) => [n.height, n.seq, n.count])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
      [2, 8, 1],
    ]);
    expect(b.notices.map((n) => [n.height, n.seq, n.count])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
    ]);
    // An interval with nothing open cuts nothing: no empty directory block.
    door.admission.cutBlocks();
    admitted(door.admission.admit(door.chains.get('blocks')!, frameOf(['last']), a, 2));
    await door.sealAll();
    expect(door.ledger.heads().directory.nextHeight).toBe(2);
    expect(door.ledger.heads().chains[0]).toMatchObject({ nextSeq: 10, nextHeight: 4 });
  });
});

describe('Admission with credits', () => {
  it('bills a frame before it takes seqs and writes its burns with the blocks it landed in, split where a block was cut inside it', async () => {
    const door = await startFrontDoor({ credits: true, limits: { maxBlockEntries: 4 } });
    const credits = door.credits!;
    // 1 per entry + 1 per KiB started: a 1,500-byte entry costs 3.
    const payer = await payingOwner(credits, 'paid', { writePerEntry: 1, writePerKiB: 1 }, 100);
    const account = payer.kind === 'account' ? payer.account : '';
    const owner = new RecordingOwner();
    const list = ['a', 'b', 'c', 'x'.repeat(1500), 'e', 'f'];
    admitted(door.admission.admit('paid', frameOf(list), owner, 0, payer));
    // Debited at admission: 1+1 each for five small entries, 1+2 for the large one.
    expect(credits.balance(ADMIN, 'paid', account)).toEqual({ account, balance: 100 - 13 });
    await door.sealAll();
    const history = credits.history(ADMIN, 'paid', 0, 10);
    if (isRefusal(history)) throw new Error(history.message);
    const burns = history.heights.flatMap((h) => h.burns);
    expect(burns).toEqual([
      { block: 0, firstSeq: 0, count: 4, account, amount: 2 + 2 + 2 + 3 },
      { block: 1, firstSeq: 4, count: 2, account, amount: 2 + 2 },
    ]);
  });

  it('refuses a frame its payer cannot afford, or one without a payer, and burns nothing for it', async () => {
    const door = await startFrontDoor({ credits: true });
    const credits = door.credits!;
    const payer = await payingOwner(credits, 'thin', { writePerEntry: 1, writePerKiB: 0 }, 10);
    const account = payer.kind === 'account' ? payer.account : '';
    const owner = new RecordingOwner();
    admitted(door.admission.admit('thin', frameOf(entries('first', 6)), owner, 0, payer));
    const before = trace(door);
    expect(refused(door.admission.admit(door.chains.get('thin')!, frameOf(entries('second', 6)), owner, 1, payer))).toMatchObject({
      code: 'credits',
      message: `${account} holds 4 credits of chain "thin"; this frame of 6 entries costs 6`,
    });
    expect(refused(door.admission.admit(door.chains.get('thin')!, frameOf(['free?']), owner, 1, null))).toMatchObject({
      code: 'unauthenticated',
      message: 'no key',
    });
    expect(trace(door)).toEqual(before);
    expect(credits.balance(ADMIN, 'thin', account)).toEqual({ account, balance: 4 });
    admitted(door.admission.admit(door.chains.get('thin')!, frameOf(entries('third', 4)), owner, 2, payer));
    await door.sealAll();
    const history = credits.history(ADMIN, 'thin', 0, 10);
    if (isRefusal(history)) throw new Error(history.message);
    expect(history.heights.flatMap((h) => h.burns).reduce((n, b) => n + b.amount, 0)).toBe(10);
    expect(door.ledger.heads().chains[0]).toMatchObject({ nextSeq: 10 });
  });
});

describe('Admission with fair shares', () => {
  it('refuses a chain over its share of a contended lane before reading its frame, without a trace, and admits the chain under its share', async () => {
    const fair = new FairShare({ newChainReserve: 0.1, burstTicks: 2, maxChains: 64 });
    const door = await startFrontDoor({ fairShare: fair });
    const owner = new RecordingOwner();
    // The light lane carries 1,000 entries/s and is over its headroom: shares matter.
    fair.setCapacities([0, 1, 2].map(() => ({ entriesPerSec: 1_000, bytesPerSec: 1e15 })));
    fair.setLoads([0, 0, 1], 0.8);
    const laneOf = (slot: number): number => door.chainTable.lane(slot);
    // A first tick fills the reserve new chains draw on; their first frames make them active.
    fair.refill(0.1, 0, laneOf);
    admitted(door.admission.admit('flood', frameOf(['hello']), owner, 0));
    admitted(door.admission.admit('calm', frameOf(['hello']), owner, 0));
    fair.refill(0.1, door.chains.size, laneOf);
    // Each tick gives the two chains 45 entries of the lane; the flood asks for far more.
    const flood = door.chains.get('flood')!;
    let rejection: Rejection | null = null;
    let frames = 0;
    while (rejection === null && frames < 100) {
      const before = trace(door);
      const result = door.admission.admit(flood, frameOf(entries(`f${frames}`, 10)), owner, ++frames);
      if (result instanceof Rejection) {
        rejection = result;
        expect(trace(door)).toEqual(before);
      }
    }
    expect(rejection).toMatchObject({ code: 'busy', message: 'chain "flood" is over its fair share of the light lane while others wait; retry later' });
    expect(fair.refused[flood.slot]).toBe(1);
    admitted(door.admission.admit(door.chains.get('calm')!, frameOf(entries('c', 10)), owner, 1));
    // A new chain draws on the reserve held for chains the lane has not seen.
    admitted(door.admission.admit('newcomer', frameOf(['hi']), owner, 0));
  });
});

describe('Admission with client frame ids', () => {
  const P1 = Uint8Array.from([9, 9, 9, 9, 1, 1, 1, 1]);
  const P2 = Uint8Array.from([9, 9, 9, 9, 1, 1, 1, 2]);
  const withId = (producer: Uint8Array, n: number, list: readonly string[]) => Buffer.concat([encodeFrameId(producer, n), frameOf(list)]);

  function repeated(result: PendingFrame | Rejection | Repeat | StoredRepeat): Repeat {
    if (!(result instanceof Repeat))
      throw new Error(
        `expected a repeat, got ${result instanceof Rejection ? `${result.code}: ${result.message}` : 'seq' in result ? `seq ${result.seq}` : 'a repeat from the store'}`,
      );
    return result;
  }

  it('answers a frame sent again with its first accepted, writes nothing, and says once it is committed', async () => {
    const door = await startFrontDoor();
    const [first, again] = [new RecordingOwner(), new RecordingOwner()];
    const sent = entries('id', 8);
    admitted(door.admission.admit('ids', frameOf(entries('before', 3)), first, 0));
    const pending = admitted(door.admission.admit(door.chains.get('ids')!, withId(P1, 0, sent), first, 1));
    expect(pending).toMatchObject({ seq: 3, count: 8 });
    await door.pools[LIGHT]!.drain();
    // The stored entries are the array's, not the id's bytes.
    expect(first.accepted[1]).toEqual({ frame: 1, seq: 3, count: 8, hashes: hashesOf(sent) });
    const before = trace(door);
    const repeat = repeated(door.admission.admit(door.chains.get('ids')!, withId(P1, 0, sent), again, 0));
    expect({ seq: repeat.seq, count: repeat.count, committed: repeat.committed }).toEqual({ seq: 3, count: 8, committed: false });
    expect(Array.from({ length: 8 }, (_, i) => repeat.hashes.subarray(32 * i, 32 * i + 32).toString('hex'))).toEqual(hashesOf(sent));
    expect(trace(door)).toEqual(before);
    expect(again.accepted).toEqual([]);
    expect(door.admission.frameIds.stats.repeats).toBe(1);
    await door.sealAll();
    expect(door.ledger.heads().chains[0]).toMatchObject({ chainName: 'ids', nextSeq: 11 });
    // The repeat's connection hears of the block holding its entries (the first one's may be gone).
    await expect.poll(() => again.notices.length, { timeout: 20_000 }).toBe(1);
    expect(again.notices[0]).toMatchObject({ seq: 0, count: 11 });
    await expect.poll(() => door.chains.get('ids')!.committedSeq, { timeout: 20_000 }).toBe(11);
    expect(repeated(door.admission.admit(door.chains.get('ids')!, withId(P1, 0, sent), again, 1)).committed).toBe(true);
    expect(door.ledger.heads().chains[0]).toMatchObject({ nextSeq: 11 });
  });

  it('answers busy to a repeat still being hashed and bad_frame to one of another size; another producer’s same n is a new frame', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    admitted(door.admission.admit('flight', withId(P1, 7, entries('a', 8)), owner, 0));
    const chain = door.chains.get('flight')!;
    // Same turn: the lane worker has not hashed it yet.
    const inFlight = refused(door.admission.admit(chain, withId(P1, 7, entries('a', 8)), owner, 1));
    expect(inFlight.code).toBe('busy');
    expect(inFlight.message).toMatch(/producer 0909090901010101, n 7\) is still being accepted/);
    await door.pools[LIGHT]!.drain();
    const resized = refused(door.admission.admit(chain, withId(P1, 7, entries('a', 5)), owner, 2));
    expect(resized.code).toBe('bad_frame');
    expect(resized.message).toMatch(/frame of 8 entries, and this one has 5/);
    expect(admitted(door.admission.admit(chain, withId(P2, 7, entries('b', 8)), owner, 3))).toMatchObject({ seq: 8, count: 8 });
    expect(repeated(door.admission.admit(chain, withId(P1, 7, entries('a', 8)), owner, 4)).seq).toBe(0);
    // A stream opened before the chain existed names it by name: the repeat is still found.
    expect(repeated(door.admission.admit('flight', withId(P1, 7, entries('a', 8)), owner, 5)).seq).toBe(0);
    // A repeat while its block is cut but not yet sealed is told when it is; one of another block is not told of it.
    door.admission.cutBlocks();
    const [late, other] = [new RecordingOwner(), new RecordingOwner()];
    expect(repeated(door.admission.admit(chain, withId(P1, 7, entries('a', 8)), late, 0)).committed).toBe(false);
    admitted(door.admission.admit(chain, withId(P1, 8, entries('c', 8)), other, 0));
    await door.sealAll();
    await expect.poll(() => late.notices.length + other.notices.length, { timeout: 20_000 }).toBe(2);
    expect(late.notices.map((n) => [n.seq, n.count])).toEqual([[0, 16]]);
    expect(other.notices.map((n) => [n.seq, n.count])).toEqual([[16, 8]]);
  });

  it('refuses a frame that starts like an id and is not one, without a trace; a frame without an id carries none', async () => {
    const door = await startFrontDoor();
    const owner = new RecordingOwner();
    const plain = admitted(door.admission.admit('plain', frameOf(entries('p', 8)), owner, 0));
    expect(plain.id).toBeNull();
    const before = trace(door);
    const badType = withId(P1, 1, ['x']);
    badType[1] = 0x02;
    expect(refused(door.admission.admit(door.chains.get('plain')!, badType, owner, 1))).toMatchObject({
      code: 'bad_frame',
      message: expect.stringMatching(/fixext 16 of type 1/),
    });
    expect(refused(door.admission.admit(door.chains.get('plain')!, withId(P1, 1, []), owner, 2)).code).toBe('bad_frame');
    expect(refused(door.admission.admit(door.chains.get('plain')!, encodeFrameId(P1, 2), owner, 3)).code).toBe('bad_frame');
    expect(trace(door)).toEqual(before);
    // Refused frames are not remembered: the same id is written when it comes right.
    expect(admitted(door.admission.admit(door.chains.get('plain')!, withId(P1, 1, ['x']), owner, 4))).toMatchObject({ seq: 8, count: 1 });
  });
});
