// /metrics in authenticated mode: the admin key as a Bearer token, as Prometheus sends it.
import { describe, expect, it } from 'vitest';
import { MetricsText, startCreditGateway } from '../helpers/index.js';

describe('/metrics with an admin key set', () => {
  it('answers the admin key only', async () => {
    const gw = await startCreditGateway();
    const none = await gw.http('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const account = await gw.account('alice');
    const asAccount = await gw.http('/metrics', { headers: { authorization: `Bearer ${account.key}` } });
    expect(asAccount.status).toBe(403);
    expect(((await asAccount.json()) as { error: { message: string } }).error.message).toMatch(/admin key/);
    const admin = await gw.http('/metrics', { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(admin.status).toBe(200);
    expect(MetricsText.parse(await admin.text()).value('chainlanes_chains')).toBe(0);
  });
});
