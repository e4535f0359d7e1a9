// Start, stop, restart, and the pure-JS fallback, end to end.
import { describe, expect, it } from 'vitest';
import { StreamClient, startGateway } from '../helpers/index.js';

describe('lifecycle', () => {
  it('on SIGTERM answers every frame in flight, commits what it accepted, and exits 0', async () => {
    const gw = await startGateway();
    const c = await StreamClient.open(gw.port, 'shutdown');
    const frames = 400;
    for (let f = 0; f < frames; f++) c.send(Array.from({ length: 16 }, (_, k) => `f${f}e${k}`));
    await c.waitReplies(1);
    const exit = gw.stop();
    const replies = await c.waitReplies(frames);
    expect(replies).toHaveLength(frames);
    replies.forEach((r, f) => {
      expect(r.frame).toBe(f);
      if (r.type === 'error') expect(r).toMatchObject({ code: 'busy', message: expect.stringMatching(/shutting down/) });
      else expect(r.type).toBe('accepted');
    });
    const accepted = replies.filter((r) => r.type === 'accepted').reduce((n, r) => n + (r.count as number), 0);
    expect(await c.waitClosed()).toBe(1001);
    expect(await exit).toBe(0);
    // Everything accepted was sealed before exit: the notices cover it all.
    expect(c.committed.reduce((n, r) => n + (r.count as number), 0)).toBe(accepted);
  });

  it('resumes every chain at its next seq and height after a restart', async () => {
    const first = await startGateway();
    const dataDir = first.dataDir;
    const c = await StreamClient.open(first.port, 'resumer');
    c.send(['one', 'two', 'three']);
    await c.waitCommitted((cs) => cs.length >= 1);
    expect(await first.stop()).toBe(0);
    const second = await startGateway({ dataDir });
    expect(await second.json('/v1/chains/resumer')).toMatchObject({ nextSeq: 3, committedSeq: 3, height: 0 });
    const d = await StreamClient.open(second.port, 'resumer');
    d.send(['four']);
    const [reply] = await d.waitReplies(1);
    expect(reply).toMatchObject({ type: 'accepted', seq: 3 });
    const [notice] = await d.waitCommitted((cs) => cs.length >= 1);
    expect(notice).toMatchObject({ height: 1, seq: 3, count: 1 });
    const block = await second.json<{ header: string }>('/v1/chains/resumer/blocks/1');
    const prev = await second.json<{ hash: string }>('/v1/chains/resumer/blocks/0');
    // The header's previous-block field (bytes 40..72) links to block 0.
    expect(block.header.slice(80, 144)).toBe(prev.hash);
    d.close();
  });

  it('gives the same bytes on the pure-JS fallback as with the native addon, and says so in /healthz', async () => {
    const entries = Array.from({ length: 37 }, (_, i) => `entry ${i} ${'z'.repeat(i * 3)}`);
    const results = [];
    const envs: Record<string, string>[] = [{}, { CHAINLANES_NATIVE: '0' }];
    for (const env of envs) {
      const gw = await startGateway({ env });
      const c = await StreamClient.open(gw.port, 'parity');
      c.send(entries);
      const [reply] = await c.waitReplies(1);
      const [notice] = await c.waitCommitted((cs) => cs.length >= 1);
      const health = await gw.json('/healthz');
      const proof = await gw.json('/v1/chains/parity/entries/20');
      results.push({
        native: health.native,
        hashes: Buffer.from(reply!.hashes as Uint8Array).toString('hex'),
        root: Buffer.from(notice!.root as Uint8Array).toString('hex'),
        path: proof.path,
      });
      c.close();
      // One gateway at a time, each stopping cleanly.
      expect(await gw.stop()).toBe(0);
    }
    expect(results[0]!.native).toBe(true);
    expect(results[1]!.native).toBe(false);
    expect(results[1]!.hashes).toBe(results[0]!.hashes);
    expect(results[1]!.root).toBe(results[0]!.root);
    expect(results[1]!.path).toEqual(results[0]!.path);
  });
});
