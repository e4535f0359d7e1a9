// Invariant 3: whatever was reported committed survives kill -9.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { CLI, StreamClient, sleep, startGateway } from '../helpers/index.js';

describe('crash recovery', () => {
  it('keeps every committed entry verifiable after SIGKILL under a steady stream, and continues the chain', async () => {
    const first = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const dataDir = first.dataDir;
    const chains = ['crash-a', 'crash-b'];
    const clients = await Promise.all(chains.map((c) => StreamClient.open(first.port, c)));
    let frames = 0;
    const streamUntil = Date.now() + 1_500;
    while (Date.now() < streamUntil) {
      for (const c of clients) c.send(Array.from({ length: 8 }, (_, k) => `frame ${frames} entry ${k}`));
      frames++;
      await sleep(2);
    }
    // Still streaming when it dies.
    for (const c of clients) c.send(['in flight at the kill']);
    await first.kill();
    const committedThrough = clients.map((c) => c.committed.reduce((end, n) => Math.max(end, (n.seq as number) + (n.count as number)), 0));
    const lastHeight = clients.map((c) => Math.max(...c.committed.map((n) => n.height as number)));
    expect(Math.min(...committedThrough)).toBeGreaterThan(0);

    const second = await startGateway({ dataDir });
    for (const [i, chain] of chains.entries()) {
      const info = await second.json(`/v1/chains/${chain}`);
      // Everything reported committed is there (and possibly more that was durable but not yet reported).
      expect(info.committedSeq as number).toBeGreaterThanOrEqual(committedThrough[i]!);
      expect(info.height as number).toBeGreaterThanOrEqual(lastHeight[i]!);
      const seqs = new Set([0, committedThrough[i]! - 1, Math.floor(committedThrough[i]! / 2)]);
      for (let s = 0; s < committedThrough[i]!; s += 97) seqs.add(s);
      for (const seq of seqs) {
        const proof = (await second.json(`/v1/chains/${chain}/entries/${seq}`)) as unknown as EntryProof;
        expect(verifyEntry(proof, { chain, seq })).toEqual({ ok: true });
      }
      // The chain continues at the next height, linked to the last block before the kill.
      const c = await StreamClient.open(second.port, chain);
      c.send(['after the restart']);
      const [reply] = await c.waitReplies(1);
      expect(reply).toMatchObject({ type: 'accepted', seq: info.nextSeq });
      const [notice] = await c.waitCommitted((n) => n.length >= 1);
      expect(notice!.height).toBe((info.height as number) + 1);
      const block = await second.json<{ prevHash: string }>(`/v1/chains/${chain}/blocks/${notice!.height as number}`);
      const before = await second.json<{ hash: string }>(`/v1/chains/${chain}/blocks/${info.height as number}`);
      expect(block.prevHash).toBe(before.hash);
      c.close();
    }
    // A clean stop before the offline check: the store is whole after a kill, a restart and a SIGTERM.
    expect(await second.stop()).toBe(0);
    const report = execFileSync(process.execPath, [CLI, 'verify', '--data', dataDir], { encoding: 'utf8' });
    expect(report).toMatch(/chainlanes verify: OK: 2 chains/);
  });
});
