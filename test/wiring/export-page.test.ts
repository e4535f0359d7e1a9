// A gateway's pull of another's export (`fetchExportPage`, used by the
// handoff's adopt and by a standby's pull of older blocks) against a peer
// that answers `busy`, as an owner whose front door has barred the puller's
// address for a moment does: asked again after a pause, a bounded number of
// times; any other failure at once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isRefusal } from '../../src/credits/index.js';
import { fetchExportPage } from '../../src/wiring/handoff.js';
import { registerCleanup } from '../helpers/index.js';

const BUSY = JSON.stringify({ error: { code: 'busy', message: 'the address 127.0.0.1 … is barred for 1 s more' } });

/** A peer answering each request with the next status of `statuses` (the last one repeated), 200 being an empty export page. */
async function peer(statuses: number[]): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const status = statuses[Math.min(requests, statuses.length - 1)]!;
    requests++;
    if (status === 200) res.writeHead(200, { 'content-type': 'application/msgpack' }).end(pack({ blocks: [], next: null }));
    else res.writeHead(status, { 'content-type': 'application/json' }).end(BUSY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup('export peer', () => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe('fetchExportPage', () => {
  it('asks a busy peer again after a pause, and takes the page it then gives', async () => {
    const p = await peer([503, 503, 200]);
    const page = await fetchExportPage(p.url, 'ledger', 0, null);
    expect(isRefusal(page)).toBe(false);
    expect(page).toEqual({ blocks: [], next: null });
    expect(p.requests()).toBe(3);
  });

  it('gives up on a peer busy six times, naming the answer', async () => {
    const p = await peer([503]);
    const page = await fetchExportPage(p.url, 'ledger', 4, null);
    expect(isRefusal(page) && page.message).toMatch(/export\?from=4: HTTP 503: .*barred/);
    expect(p.requests()).toBe(6);
  }, 20_000);

  it('does not ask again after another failure', async () => {
    const p = await peer([500, 200]);
    const page = await fetchExportPage(p.url, 'ledger', 0, null);
    expect(isRefusal(page) && page.message).toMatch(/HTTP 500/);
    expect(p.requests()).toBe(1);
  });
});
