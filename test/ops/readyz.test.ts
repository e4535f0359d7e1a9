// GET /readyz: 200 once every part a frame passes through is up, 503 with the
// reason while one is not (here: a store that fails every seal).
import { describe, expect, it } from 'vitest';
import { StreamClient, startGateway } from '../helpers/index.js';

describe('GET /readyz', () => {
  it('answers 200 on a started gateway', async () => {
    const gw = await startGateway();
    const res = await gw.http('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true });
  });

  it('answers 503 naming the cause while the store fails to seal', async () => {
    const gw = await startGateway({
      config: { ledger: { blockIntervalMs: 50 } },
      env: { CHAINLANES_TEST_FAULTS: JSON.stringify({ failSealsAfter: 1, failSealAttempts: 1_000_000 }) },
    });
    expect((await gw.http('/readyz')).status).toBe(200);
    const client = await StreamClient.open(gw.port, 'failing');
    client.send(['one']);
    await client.waitCommitted((c) => c.length === 1);
    client.send(['two']);
    await expect.poll(async () => (await gw.http('/readyz')).status, { timeout: 10_000 }).toBe(503);
    const body = (await (await gw.http('/readyz')).json()) as { ready: boolean; reason: string };
    expect(body.ready).toBe(false);
    expect(body.reason).toMatch(/seal/i);
  });
});
