// Credits under pressure against a real gateway: two connections of one
// account spending at once, kill -9 between burn and seal, blocks cut inside
// frames while the policy changes, and a flood of wrong keys beside a paying client.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKey } from '../../src/credits/index.js';
import { StreamClient, registerCleanup, runCli, sleep, startCreditGateway, tempDir, type Reply } from '../helpers/index.js';

function accepted(replies: readonly Reply[]): Reply[] {
  return replies.filter((r) => r.type === 'accepted');
}

describe('credits under pressure', () => {
  it('never overdraws one account spent from two connections at once, and burns exactly what was accepted', async () => {
    const gw = await startCreditGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const owner = await gw.account('owner');
    const spender = await gw.account('spender');
    await gw.chain('race', owner, { writePerEntry: 1, writers: [spender.id] });
    await gw.mint('race', owner, spender, 10_000);
    const second = (await gw.call<{ key: string }>('POST', `/v1/accounts/${spender.id}/keys`, spender.key)).body.key;
    const [a, b] = await Promise.all([StreamClient.open(gw.port, 'race', spender.key), StreamClient.open(gw.port, 'race', second)]);
    // 1,000 frames of 7 entries and 1,000 of 5 ask for 12,000 credits: more than there are.
    for (let i = 0; i < 1000; i++) {
      a.send(Array.from({ length: 7 }, (_, k) => `a${i}.${k}`));
      b.send(Array.from({ length: 5 }, (_, k) => `b${i}.${k}`));
    }
    const [ra, rb] = await Promise.all([a.waitReplies(1000), b.waitReplies(1000)]);
    const spent = 7 * accepted(ra).length + 5 * accepted(rb).length;
    const refused = [...ra, ...rb].filter((r) => r.type === 'error');
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.code))).toEqual(new Set(['credits']));
    expect(accepted(ra).length).toBeGreaterThan(0);
    expect(accepted(rb).length).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(10_000);
    expect(await gw.balance('race', spender)).toBe(10_000 - spent);
    // Every seq is used once: the accepted frames tile the chain with no gap.
    const seqs = [...accepted(ra), ...accepted(rb)].map((r) => [r.seq as number, r.count as number]).sort((x, y) => x[0]! - y[0]!);
    expect(seqs.reduce((next, [seq, count]) => (seq === next ? next + count! : -1), 0)).toBe(spent);

    expect(await gw.stop()).toBe(0);
    const verify = runCli(['verify', '--data', gw.dataDir]);
    expect(verify.output).toContain(`OK: credits: 1 chains, 10000 minted − ${spent} burned = ${10_000 - spent} held`);
  });

  it('after kill -9 between burn and seal, balances equal mints minus the burns of committed entries', async () => {
    const first = await startCreditGateway({ config: { ledger: { blockIntervalMs: 200 } } });
    const owner = await first.account('owner');
    const writer = await first.account('writer');
    // 100-byte entries cost 1 + 1 × ⌈100/1024⌉ = 2.
    await first.chain('crash', owner, { writePerEntry: 1, writePerKiB: 1, writers: 'any' });
    await first.mint('crash', owner, writer, 1_000_000);
    const client = await StreamClient.open(first.port, 'crash', writer.key);
    const until = Date.now() + 1_200;
    let frames = 0;
    while (Date.now() < until) {
      client.send(Array.from({ length: 10 }, (_, k) => `${String(frames).padStart(8, '0')}:${k}:`.padEnd(100, '.')));
      frames++;
      await sleep(2);
    }
    await first.kill();
    const acceptedEntries = accepted(client.replies).reduce((n, r) => n + (r.count as number), 0);

    const second = await startCreditGateway({ dataDir: first.dataDir, adminKey: first.adminKey });
    const committed = (await second.call<{ nextSeq: number }>('GET', '/v1/chains/crash', second.adminKey)).body.nextSeq;
    // Some burns were debited at admission but never sealed: they were not lost money.
    expect(acceptedEntries).toBeGreaterThan(committed);
    expect(committed).toBeGreaterThan(0);
    expect(await second.balance('crash', writer)).toBe(1_000_000 - 2 * committed);
    // And the chain goes on, charging from the restored balance.
    const after = await second.call('POST', '/v1/chains/crash/entries?wait=committed', writer.key, ['x'.repeat(100)]);
    expect(after).toMatchObject({ status: 200, body: { seq: committed } });
    expect(await second.balance('crash', writer)).toBe(1_000_000 - 2 * (committed + 1));
    expect(await second.stop()).toBe(0);
    const verify = runCli(['verify', '--data', first.dataDir]);
    expect(verify.status).toBe(0);
    expect(verify.output).toContain(`OK: credits: 1 chains, 1000000 minted − ${2 * (committed + 1)} burned`);
  });

  it('charges each block exactly for the entries it holds when blocks are cut inside frames and the policy changes mid-stream', async () => {
    const gw = await startCreditGateway({ config: { ledger: { blockIntervalMs: 50, maxBlockEntries: 5 } } });
    const owner = await gw.account('owner');
    await gw.chain('split', owner, { writePerEntry: 1, writePerKiB: 1 });
    await gw.mint('split', owner, owner, 1_000_000);
    const client = await StreamClient.open(gw.port, 'split', owner.key);
    const entry = (i: number): string => 'e'.repeat((i * 397) % 3000);
    let sent = 0;
    for (let round = 0; round < 4; round++) {
      for (let f = 0; f < 10; f++) client.send(Array.from({ length: 3 }, (_, k) => entry(sent * 3 + k + f)));
      sent += 10;
      // A new price while frames are in flight: entries before the change pay the old one.
      const put = await gw.call('PUT', '/v1/chains/split/policy', owner.key, {
        writePerEntry: round + 2,
        writePerKiB: round,
        readPerEntry: 0,
        writers: 'owner',
        readers: 'owner',
        transferable: false,
      });
      expect(put.status).toBe(200);
    }
    const replies = await client.waitReplies(sent);
    // A frame that met the change in flight is refused `busy` (nothing happened); the rest are accepted.
    expect(replies.every((r) => r.type === 'accepted' || r.code === 'busy')).toBe(true);
    expect(await gw.stop()).toBe(0);
    const verify = runCli(['verify', '--data', gw.dataDir]);
    expect(verify.status).toBe(0);
    expect(verify.output).toMatch(/OK: credits: 1 chains, 1000000 minted − \d+ burned = \d+ held; the burns of \d+ blocks match/);
  });

  it('prices entries after a crash by the policy set before it, even when the entries priced by the old one were lost', async () => {
    const first = await startCreditGateway({ config: { ledger: { blockIntervalMs: 5_000 } } });
    const owner = await first.account('owner');
    await first.chain('lost', owner, { writePerEntry: 1 });
    await first.mint('lost', owner, owner, 1_000);
    const client = await StreamClient.open(first.port, 'lost', owner.key);
    client.send(['a', 'b', 'c']);
    await client.waitReplies(1);
    // Durable at once, from seq 3: but seqs 0…2 are not sealed yet (the interval is 5 s), and die with the gateway.
    expect(
      await first.call('PUT', '/v1/chains/lost/policy', owner.key, {
        writePerEntry: 10,
        writePerKiB: 0,
        readPerEntry: 0,
        writers: 'owner',
        readers: 'owner',
        transferable: false,
      }),
    ).toMatchObject({ status: 200, body: { version: 2, fromSeq: 3 } });
    await first.kill();

    const second = await startCreditGateway({ dataDir: first.dataDir, adminKey: first.adminKey, config: { ledger: { blockIntervalMs: 50 } } });
    expect(await second.balance('lost', owner)).toBe(1_000);
    const post = await second.call('POST', '/v1/chains/lost/entries?wait=committed', owner.key, ['x', 'y']);
    expect(post).toMatchObject({ status: 200, body: { seq: 0 } });
    expect(await second.balance('lost', owner)).toBe(1_000 - 20);
    expect(await second.stop()).toBe(0);
    const verify = runCli(['verify', '--data', first.dataDir]);
    expect(verify.status).toBe(0);
    expect(verify.output).toContain('OK: credits: 1 chains, 1000 minted − 20 burned = 980 held');
  });

  it('refuses a flood of wrong keys, every one 401, while a paying client beside it is answered every time', async () => {
    const gw = await startCreditGateway();
    const owner = await gw.account('owner');
    await gw.chain('calm', owner, { writePerEntry: 1 });
    await gw.mint('calm', owner, owner, 1_000_000);
    const client = await StreamClient.open(gw.port, 'calm', owner.key);
    // The flood is answered before the pings start and goes on until they are done (how the pings fare
    // beside it, against alone: `npm run bench -- --scenario hostile --kinds wrongkey`).
    const flood = startFlood(gw.port, owner.id);
    await flood.started;
    for (let i = 0; i < 400; i++) {
      client.send([`ping ${i}`]);
      await client.waitReplies(i + 1);
    }
    const { requests, statuses } = await flood.stop();
    expect(client.replies.map((r) => [r.type, r.frame, r.seq])).toEqual(Array.from({ length: 400 }, (_, i) => ['accepted', i, i]));
    expect(Object.keys(statuses)).toEqual(['401']);
    expect(statuses['401']).toBe(requests);
    expect(requests).toBeGreaterThan(0);
    expect(await gw.balance('calm', owner)).toBe(1_000_000 - 400);
  });
});

/**
 * Another process sends requests with wrong keys over 8 keep-alive connections
 * (half malformed, which the checksum refuses, half well-formed and unknown)
 * from once `started` resolves, when the first is answered, until `stop`.
 */
function startFlood(port: number, account: string): { started: Promise<void>; stop(): Promise<{ requests: number; statuses: Record<string, number> }> } {
  const script = join(tempDir(), 'flood.mjs');
  const keys = [newKey(), newKey(), 'clk_' + 'a'.repeat(36), 'Bearer-ish nonsense'];
  writeFileSync(
    script,
    `
    import http from 'node:http';
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const keys = ${JSON.stringify(keys)};
    const statuses = {};
    let requests = 0;
    let stopping = false;
    process.stdin.on('data', () => { stopping = true; });
    const one = (i) => new Promise((resolve) => {
      const req = http.request({ port: ${port}, path: '/v1/chains/calm/credits/${account}', agent, headers: { authorization: 'Bearer ' + keys[i % keys.length] } }, (res) => {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', resolve);
      req.end();
    });
    const loop = async (w) => {
      for (let i = w; !stopping; i += 8) {
        await one(i);
        if (requests++ === 0) process.stdout.write('started\\n');
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => loop(w)));
    process.stdout.write(JSON.stringify({ requests, statuses }) + '\\n');
    process.exit(0);
  `,
  );
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  registerCleanup('flood process', () => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const started = new Promise<void>((resolve, reject) => {
    const look = (): void => {
      if (out.startsWith('started\n')) resolve();
    };
    child.stdout.on('data', look);
    void closed.then(() => reject(new Error(`the flood ended before its first answer: ${out}`)));
  });
  return {
    started,
    stop: async () => {
      child.stdin.end('stop\n');
      await closed;
      return JSON.parse(out.split('\n').filter((line) => line.startsWith('{'))[0] ?? 'null') as { requests: number; statuses: Record<string, number> };
    },
  };
}
