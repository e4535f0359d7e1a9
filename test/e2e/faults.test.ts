// A failing store: seals are retried, nothing is committed early, the gateway
// holds only a bounded backlog (then `busy`), and nothing committed is touched.
import { describe, expect, it } from 'vitest';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { StreamClient, expectContiguousCommits, sleep, startGateway } from '../helpers/index.js';

describe('failed seals', () => {
  it('retries, bounds the unsealed backlog with busy, and commits everything accepted once the store recovers', async () => {
    const gw = await startGateway({
      config: {
        // Four failures stay short of trouble (which would refuse every frame `busy`): this test is about the unsealed bound.
        ledger: { blockIntervalMs: 50, unhealthyAfterSealFailures: 5 },
        limits: { maxUnsealedBytes: 32 * 1024 },
      },
      env: { CHAINLANES_TEST_FAULTS: JSON.stringify({ failSealsAfter: 1, failSealAttempts: 4 }) },
    });
    const c = await StreamClient.open(gw.port, 'fragile');
    c.send(['before the failures']);
    const [first] = await c.waitCommitted((n) => n.length >= 1);
    expect(first).toMatchObject({ height: 0, seq: 0, count: 1 });
    const entry = 'e'.repeat(1000);
    let frames = 1;
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      c.send(Array.from({ length: 8 }, () => entry));
      frames++;
      await sleep(10);
    }
    const replies = await c.waitReplies(frames);
    const busy = replies.filter((r) => r.type === 'error');
    expect(busy.length).toBeGreaterThan(0);
    busy.forEach((r) => expect(r).toMatchObject({ code: 'busy', message: expect.stringMatching(/waiting to be made durable/) }));
    // The backlog was bounded: far from everything sent was accepted while the store failed.
    const accepted = replies.filter((r) => r.type === 'accepted').reduce((n, r) => n + (r.count as number), 0);
    expect(accepted).toBeLessThan(1 + 8 * (frames - 1));
    const committed = await c.waitCommitted((n) => n.reduce((sum, x) => sum + (x.count as number), 0) >= accepted, 20_000);
    // No notice for a failed seal.
    expectContiguousCommits(committed, accepted);
    expect((await gw.metrics()).value('chainlanes_seal_failures_total')).toBe(4);
    expect(await gw.json('/healthz')).toMatchObject({ sealFailures: 4, lastSealError: expect.stringMatching(/injected seal failure 4 of 4/) });
    expect(gw.logs()).toContainEqual(
      expect.objectContaining({ event: 'seal-failed', attempt: 4, error: expect.stringMatching(/injected seal failure 4 of 4/) }),
    );
    // What was committed before the failures is untouched.
    const block0 = await gw.json<{ hash: string }>('/v1/chains/fragile/blocks/0');
    expect(block0.hash).toBe(Buffer.from(first!.block as Uint8Array).toString('hex'));
    expect(verifyEntry((await gw.json('/v1/chains/fragile/entries/0')) as unknown as EntryProof)).toEqual({ ok: true });
    c.send(['after the recovery']);
    expect((await c.waitReplies(frames + 1)).at(-1)).toMatchObject({ type: 'accepted', seq: accepted });
    c.close();
  });

  it('answers 503 on /healthz once seals keep failing, ends ?wait=committed with internal naming what is pending, and refuses writes busy', async () => {
    const gw = await startGateway({
      config: {
        ledger: { blockIntervalMs: 50, commitWaitTimeoutMs: 1_500, unhealthyAfterSealFailures: 2 },
      },
      env: { CHAINLANES_TEST_FAULTS: JSON.stringify({ failSealsAfter: 0, failSealAttempts: 1_000 }) },
    });
    const started = Date.now();
    const res = await gw.http('/v1/chains/stuck/entries?wait=committed', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(['a', 'b']),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('internal');
    expect(body.error.message).toMatch(/entries 0…1 of chain "stuck" were accepted but are not committed after 1\.5 s/);
    expect(body.error.message).toMatch(/seals failed in a row \(last error: injected seal failure/);
    const health = await gw.http('/healthz');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/seals failed in a row/) });
    // While the trouble lasts, writes are refused `busy` with the reason: the store, not the gateway, is failing.
    const refused = await gw.http('/v1/chains/stuck/entries', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["c"]' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'busy',
        message: expect.stringMatching(/^the store is failing to seal: \d+ seals failed in a row \(last error: injected seal failure .*\); retry later$/),
      },
    });
    // SIGKILL, not the clean-up's SIGTERM: a clean stop would wait on seals that never succeed.
    await gw.kill();
  });
});
