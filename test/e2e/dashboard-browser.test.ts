// The dashboard and explorer in a real browser (Debian's chromium through
// playwright-core), with no network beyond the gateway: the charts (uPlot,
// served by the gateway) have a time axis and named series; the balancer's
// decisions made before the page opened are listed; a chain a client floods
// appears, moves to heavy, and its chain view shows its rate; one of its
// entries is verified by the page itself with WebCrypto up to the directory
// hash; a binary entry is shown as hex with its length. The pictures of the
// README are taken here (docs/images/ with CHAINLANES_DOCS_IMAGES=1). In
// authenticated mode the page asks for a key, refuses a wrong one, and shows an
// owner only its own chains.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { QUICK_TO_HEAVY, StreamClient, sha256Hex, sleep, startGateway, type ChildGateway } from '../helpers/index.js';
import { startCreditGateway } from '../helpers/credits.js';
import { gatewayOnly, keepPicture, keepScreenshot, openBrowser } from '../helpers/browser.js';

const MOVE_TIMEOUT_MS = 20_000;
/** Bytes no UTF-8 reading makes printable: NUL, 0xff (never UTF-8), a control character. */
const BINARY = Uint8Array.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x41, 0xfe, 0x01, 0x02, 0x03, 0xc3, 0x28, 0x9a, 0x00, 0x42, 0x43, 0x44]);

/** Writes to `writer` until its chain is in the heavy lane (GET /v1/chains/{name}); returns the frames sent. */
async function floodToHeavy(gw: ChildGateway, writer: StreamClient, chain: string, isHeavy?: () => Promise<boolean>): Promise<number> {
  let frames = 0;
  const heavy = isHeavy ?? (async () => (await gw.json<{ lane: string }>(`/v1/chains/${chain}`)).lane === 'heavy');
  const until = Date.now() + MOVE_TIMEOUT_MS;
  while (Date.now() < until && !(await heavy())) {
    for (let i = 0; i < 20; i++, frames++) writer.send(Array.from({ length: 64 }, (_, k) => `flood ${chain} ${frames}-${k}`));
    await sleep(40);
  }
  await writer.waitReplies(frames);
  return frames;
}

/** The number in a figure of the chain view ("1.23k entries/s" → 1230). */
async function figure(page: Page, name: string): Promise<number> {
  const text = (await page.locator(`#chain-view dd[data-figure="${name}"]`).textContent()) ?? '';
  const match = /(-?[\d.]+)([kMG]?)/.exec(text);
  if (match === null) return NaN;
  return Number(match[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[match[2]!]!;
}

describe('dashboard in a browser', () => {
  it('charts, earlier moves, a chain moving to heavy, its chain view, and a proof verified in the page, with no network beyond the gateway', async () => {
    const gw = await startGateway({ config: QUICK_TO_HEAVY });
    const origin = `http://127.0.0.1:${gw.port}`;

    // Before the page opens: a chain goes light → heavy, and the operator pins another.
    const early = await StreamClient.open(gw.port, 'moved-before');
    await floodToHeavy(gw, early, 'moved-before');
    const pinned = await StreamClient.open(gw.port, 'pinned-before');
    pinned.send(['pin me']);
    await pinned.waitCommitted((c) => c.length > 0);
    const pin = await gw.http('/v1/chains/pinned-before/lane', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"lane":"medium"}' });
    expect(pin.status).toBe(200);
    const light = await Promise.all(['light-a', 'light-b', 'light-c'].map((name) => StreamClient.open(gw.port, name)));

    const { page, context, errors } = await openBrowser();
    const network = await gatewayOnly(context, page, origin);
    await page.goto(`${origin}/`);
    await page.waitForSelector('#status[data-state="live"]');

    // The decisions made before the page opened, read from GET /v1/lanes/events (this browser is on the gateway's machine).
    await page.waitForSelector('#moves-note[data-earlier="loaded"]');
    expect(await page.locator('#moves li[data-chain="moved-before"][data-kind="chain-move"]').first().textContent()).toMatch(/light → heavy/);
    expect(await page.locator('#moves li[data-chain="pinned-before"][data-kind="pin"]').first().textContent()).toMatch(
      /pinned chain "pinned-before" to medium/,
    );
    expect(await page.locator('#moves li[data-kind="calibration"]').count()).toBeGreaterThan(0);

    // Steady traffic on the light chains meanwhile, as a gateway has (and for the pictures).
    let lightFrames = 0;
    const steady = setInterval(() => {
      light.forEach((client, i) => client.send(Array.from({ length: 4 * (i + 1) }, (_, k) => `light ${i} ${k}`)));
      lightFrames++;
    }, 100);
    const writer = await StreamClient.open(gw.port, 'watched');
    writer.send(['hello from the test', 'second entry']);
    await writer.waitCommitted((c) => c.length > 0);
    const row = page.locator('tr[data-chain="watched"]');
    await expect.poll(() => row.locator('td[data-lane]').textContent(), { timeout: 10_000 }).toBe('light');
    const frames = 1 + (await floodToHeavy(gw, writer, 'watched', async () => (await row.locator('td[data-lane]').textContent()) === 'heavy'));
    expect(await row.locator('td[data-lane]').textContent()).toBe('heavy');
    // A move made while the page is open comes with the feed, listed once.
    await page.waitForSelector('#moves li[data-chain="watched"]');
    expect(await page.locator('#moves li[data-chain="watched"][data-kind="chain-move"]').count()).toBe(1);
    expect(await page.locator('#moves li[data-chain="watched"]').first().textContent()).toMatch(/light → heavy/);
    await expect.poll(async () => Number(await row.locator('td').nth(5).textContent()), { timeout: 10_000 }).toBeGreaterThan(2);

    // The charts: a time axis with clock labels, units, and two named series (accepted, committed) in the legend.
    const rate = page.locator('figure.chart[data-series="accepted|committed"]').first();
    await expect.poll(() => rate.getAttribute('data-time-labels')).toMatch(/^\d\d:\d\d:\d\d( \d\d:\d\d:\d\d)+$/);
    const legend = await rate.locator('.u-legend .u-series .u-label').allTextContents();
    expect(legend).toEqual(['time', 'accepted', 'committed']);
    await expect.poll(async () => (await rate.locator('.u-legend .u-series .u-value').allTextContents())[1]).toMatch(/entries\/s$/);
    const latency = page.locator('figure.chart[data-series="accepted p50|accepted p99|committed p50|committed p99"]');
    expect(await latency.locator('.u-legend .u-series .u-label').allTextContents()).toEqual([
      'time',
      'accepted p50',
      'accepted p99',
      'committed p50',
      'committed p99',
    ]);
    // Hovering reads out the values at that time.
    const plot = rate.locator('.u-over');
    const box = (await plot.boundingBox())!;
    await page.mouse.move(box.x + 5, box.y + box.height / 2);
    await expect.poll(async () => (await rate.locator('.u-legend .u-series .u-value').allTextContents())[0]).toMatch(/^\d\d:\d\d:\d\d$/);
    await page.mouse.move(0, 0);

    // Every figure on a lane card says what it is; capacity is the lane's, for hashing.
    const cardFigures = page.locator('.lane[data-lane="heavy"] dt');
    expect(await cardFigures.count()).toBeGreaterThan(5);
    for (const title of await cardFigures.evaluateAll((dts) => dts.map((dt) => dt.getAttribute('title')))) expect(title).toBeTruthy();
    expect(await page.locator('.lane[data-lane="heavy"] dt', { hasText: 'hashing capacity, this lane' }).getAttribute('title')).toMatch(/for hashing only/);

    // The chain view of a chain under load: its rate above zero.
    await row.locator('button').click();
    await page.waitForSelector('#chain-view:not([hidden]) figure.chart');
    expect(await page.locator('#chain-view h2').textContent()).toMatch(/^Chain watched/);
    let sent = frames;
    for (let round = 0; round < 200 && !((await figure(page, 'accepted')) > 0); round++) {
      for (let i = 0; i < 10; i++, sent++) writer.send(Array.from({ length: 64 }, (_, k) => `more ${sent}-${k}`));
      await sleep(50);
    }
    expect(await figure(page, 'accepted')).toBeGreaterThan(0);
    // Its newest point is at most a second old: it may predate the move.
    await expect.poll(() => page.locator('#chain-view dd[data-figure="lane"]').textContent(), { timeout: 5_000 }).toBe('heavy');
    expect(await page.locator('#chain-view figure.chart').evaluateAll((figures) => figures.map((f) => f.getAttribute('data-series')))).toEqual([
      'accepted|committed',
      'commit latency',
      'lane',
      'blocks',
    ]);
    await expect.poll(() => figure(page, 'committed seq')).toBeGreaterThan(100);
    // Its picture once it has some history: ten points, the chain under load meanwhile.
    const points = async (): Promise<number> => Number(await page.locator('#chain-view figure.chart').first().getAttribute('data-points'));
    for (let round = 0; round < 400 && (await points()) < 10; round++) {
      for (let i = 0; i < 5; i++, sent++) writer.send(Array.from({ length: 64 }, (_, k) => `steady ${sent}-${k}`));
      await sleep(50);
    }
    expect(await points()).toBeGreaterThanOrEqual(10);
    await writer.waitReplies(sent);
    const chainPicture = await keepPicture(page.locator('#chain-view'), 'chain-view');
    expect(chainPicture.height).toBeGreaterThan(200);

    // The explorer: the chain's latest block → back to block 0 → entry 0, verified by the page.
    // Each step waits for the block it asked for: until then the previous one is still on show.
    const heading = page.locator('#explorer-body h3');
    await expect.poll(() => heading.textContent(), { timeout: 20_000 }).toMatch(/^chain watched, block \d+$/);
    for (let guard = 0; guard < 1000 && (await page.locator('#entries button[data-seq="0"]').count()) === 0; guard++) {
      const height = Number(/block (\d+)$/.exec((await heading.textContent()) ?? '')![1]);
      await page.getByText('← previous block').click();
      await expect.poll(() => heading.textContent(), { timeout: 20_000 }).toBe(`chain watched, block ${height - 1}`);
    }
    await page.locator('#entries button[data-seq="0"]').click();
    await page.waitForSelector('#verdict[data-state="verified"]', { timeout: 20_000 });
    const steps = await page.locator('#steps li').allTextContents();
    expect(steps.map((s) => s.split(':')[0])).toEqual([
      '✓ entry hash = SHA-256(content)',
      '✓ chainId = SHA-256(chain name)',
      expect.stringMatching(/^✓ block Merkle root from leaf 0 of 2/),
      expect.stringMatching(/^✓ entry block hash = SHA-256\(header of block 0/),
      expect.stringMatching(/^✓ directory Merkle root/),
      expect.stringMatching(/^✓ directory hash = SHA-256/),
      expect.stringMatching(/^✓ directory log root of size \d+ from directory hash \d+/),
      expect.stringMatching(/^✓ head of size \d+ signed at \d{4}-\d\d-\d\dT\d\d$/),
    ]);
    // The head the proof was checked against is shown, with the key that signed it.
    const key = (await (await gw.http('/v1/directory/key')).json()) as { key: string; fingerprint: string };
    expect(await page.locator('#verdict').textContent()).toMatch(/in the directory log's head of size \d+ that the gateway signed/);
    const shown = await page.locator('#head').textContent();
    expect(shown).toContain(key.fingerprint);
    const size = Number(/(\d+) directory hashes/.exec(shown ?? '')?.[1]);
    const signed = (await (await gw.http(`/v1/directory/head?size=${size}`)).json()) as { root: string; signature: string };
    expect(shown).toContain(signed.root);
    // Printable UTF-8 is shown as text.
    expect(await page.locator('#explorer-body .content').getAttribute('data-format')).toBe('text');
    expect(await page.locator('#explorer-body .content-body').textContent()).toBe('hello from the test');
    expect(await page.locator('#verdict').textContent()).toMatch(/WebCrypto|verified/);
    const explorerPicture = await keepPicture(page.locator('#explorer'), 'explorer');
    expect(explorerPicture.height).toBeGreaterThan(200);
    await keepScreenshot(page, 'dashboard-full');

    // A binary entry: hex with its length, and base64 and text on request.
    const binary = await StreamClient.open(gw.port, 'binary');
    binary.send([BINARY]);
    await binary.waitCommitted((c) => c.length > 0);
    await page.locator('tr[data-chain="binary"] button').click();
    await page.locator('#entries button[data-seq="0"]').click();
    const content = page.locator('#explorer-body .content');
    await expect.poll(() => content.getAttribute('data-format')).toBe('hex');
    expect(await content.locator('.content-length').textContent()).toBe(`${BINARY.length} bytes`);
    const hex = Array.from(BINARY, (b) => b.toString(16).padStart(2, '0'));
    expect(await content.locator('.content-body').textContent()).toBe(`00000000  ${hex.slice(0, 16).join(' ')}\n00000010  ${hex.slice(16).join(' ')}`);
    await content.locator('button[data-format="base64"]').click();
    expect(await content.locator('.content-body').textContent()).toBe(Buffer.from(BINARY).toString('base64'));
    await content.locator('button[data-format="text"]').click();
    expect(await content.getAttribute('data-format')).toBe('text');
    await page.waitForSelector('#verdict[data-state="verified"]', { timeout: 20_000 });
    // Clicking the binary chain opened its view in place of the other; closing it hides it.
    expect(await page.locator('#chain-view').getAttribute('data-chain')).toBe('binary');
    expect(await page.locator('#chain-view figure.chart').count()).toBe(4);
    await page.locator('#chain-view h2 button').click();
    expect(await page.isHidden('#chain-view')).toBe(true);

    // The client package itself runs in the page (the global WebSocket, msgpackr's browser build):
    // it streams an entry, and its verifyEntry (@noble/hashes) accepts the proof the gateway serves.
    const fromPage = (await page.evaluate(`(async () => {
      const { connect, verifyEntry } = await import('/lib/src/client/index.js');
      const client = await connect(location.origin, 'from-the-page');
      const accepted = await client.submit(['written by the browser']);
      const hex = Array.from(accepted.hashes[0], (b) => b.toString(16).padStart(2, '0')).join('');
      await new Promise((resolve) => client.on('committed', resolve));
      await client.close();
      const proof = await (await fetch('/v1/chains/from-the-page/entries/' + accepted.seq)).json();
      return { seq: accepted.seq, hash: hex, verified: verifyEntry(proof, { hash: hex }) };
    })()`)) as { seq: number; hash: string; verified: unknown };
    expect(fromPage).toEqual({ seq: 0, hash: sha256Hex('written by the browser'), verified: { ok: true } });

    // The dashboard's picture last, with the most history in its charts.
    clearInterval(steady);
    await page.evaluate('window.scrollTo(0, 0)');
    const dashboardPicture = await keepPicture(page, 'dashboard');
    expect(dashboardPicture.width).toBeGreaterThan(1000);
    await Promise.all(light.map((client) => client.waitReplies(lightFrames)));

    // Nothing was asked of any origin but the gateway's: uPlot and every other file came from it.
    expect(network.outside).toEqual([]);
    expect(network.requested.some((url) => url.endsWith('/lib/uplot/uPlot.esm.js'))).toBe(true);
    expect(network.requested.some((url) => url.startsWith(`ws://127.0.0.1:${gw.port}/v1/dashboard/stream`))).toBe(true);
    expect(errors).toEqual([]);
    for (const client of [early, pinned, writer, binary, ...light]) client.close();
  }, 120_000);

  it('asks for a key in authenticated mode, refuses a wrong one, and shows an owner only its own chains', async () => {
    const gw = await startCreditGateway();
    const alice = await gw.account('alice');
    const bob = await gw.account('bob');
    await gw.chain('alice-chain', alice, { writePerEntry: 2 });
    await gw.mint('alice-chain', alice, alice, 1_000_000);
    await gw.chain('bob-chain', bob);
    const { page } = await openBrowser();
    await page.goto(`http://127.0.0.1:${gw.port}/`);
    await page.waitForSelector('#key-form:not([hidden])');
    expect(await page.isHidden('#main')).toBe(true);

    await page.fill('#key', 'clk_not-a-real-key');
    await page.click('#key-form button[type="submit"]');
    await expect.poll(() => page.textContent('#key-error'), { timeout: 20_000 }).toMatch(/refused/);

    await page.fill('#key', alice.key);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#status[data-state="live"]');
    await page.waitForSelector('tr[data-chain="alice-chain"]');
    expect(await page.locator('tr[data-chain="bob-chain"]').count()).toBe(0);
    expect(await page.textContent('#viewer')).toContain(alice.id);
    expect(await page.evaluate("sessionStorage.getItem('chainlanes.key')")).toBe(alice.key);
    // The balancer's history is the operator's: an account is told so.
    await page.waitForSelector('#moves-note[data-earlier="operator-only"]');

    // Its chain's view charts the credits its writes burn.
    const writer = await StreamClient.open(gw.port, 'alice-chain', alice.key);
    await page.locator('tr[data-chain="alice-chain"] button').click();
    await page.waitForSelector('#chain-view:not([hidden]) figure.chart[data-series="burned"]');
    let sent = 0;
    for (let round = 0; round < 200 && !((await figure(page, 'credits burned')) > 0); round++, sent++) {
      writer.send([`paid ${round}`]);
      await sleep(50);
    }
    expect(await figure(page, 'credits burned')).toBeGreaterThan(0);
    await writer.waitReplies(sent);
    writer.close();

    // The key survives a reload of the tab (session storage), and the admin sees every chain.
    await page.reload();
    await page.waitForSelector('tr[data-chain="alice-chain"]');
    await page.click('#forget');
    await page.waitForSelector('#key-form:not([hidden])');
    await page.fill('#key', gw.adminKey);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('tr[data-chain="bob-chain"]');
    expect(await page.locator('tr[data-chain="alice-chain"]').count()).toBe(1);
    await page.waitForSelector('#moves-note[data-earlier="loaded"]');
    await keepScreenshot(page, 'dashboard-admin');
  }, 60_000);
});
