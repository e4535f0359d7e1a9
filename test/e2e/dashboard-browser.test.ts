// The dashboard and explorer in a real browser (Debian's chromium through
// playwright-core): a chain a client writes to appears, moves to heavy when it
// is flooded, and one of its entries is verified by the page itself with
// WebCrypto up to the directory hash. In authenticated mode the page asks for a
// key, refuses a wrong one, and shows an owner only its own chains.
import { describe, expect, it } from 'vitest';
import { QUICK_TO_HEAVY, StreamClient, sha256Hex, sleep, startGateway } from '../helpers/index.js';
import { startCreditGateway } from '../helpers/credits.js';
import { keepScreenshot, openBrowser } from '../helpers/browser.js';

const MOVE_TIMEOUT_MS = 20_000;

describe('dashboard in a browser', () => {
  it('shows a chain, its move to heavy, and verifies an entry proof in the page', async () => {
    const gw = await startGateway({
      config: QUICK_TO_HEAVY,
    });
    const { page, errors } = await openBrowser();
    await page.goto(`http://127.0.0.1:${gw.port}/`);
    await page.waitForSelector('#status[data-state="live"]');

    const writer = await StreamClient.open(gw.port, 'watched');
    writer.send(['hello from the test', 'second entry']);
    await writer.waitCommitted((c) => c.length > 0);
    const row = page.locator('tr[data-chain="watched"]');
    await expect.poll(() => row.locator('td[data-lane]').textContent(), { timeout: 10_000 }).toBe('light');

    let frames = 1;
    const floodUntil = Date.now() + MOVE_TIMEOUT_MS;
    while (Date.now() < floodUntil && (await row.locator('td[data-lane]').textContent()) !== 'heavy') {
      for (let i = 0; i < 20; i++, frames++) writer.send(Array.from({ length: 64 }, (_, k) => `flood ${frames}-${k}`));
      await sleep(40);
    }
    await writer.waitReplies(frames);
    expect(await row.locator('td[data-lane]').textContent()).toBe('heavy');
    await page.waitForSelector('#moves li[data-chain="watched"]');
    expect(await page.locator('#moves li[data-chain="watched"]').first().textContent()).toMatch(/light → heavy/);
    await expect.poll(async () => Number(await row.locator('td').nth(5).textContent()), { timeout: 10_000 }).toBeGreaterThan(2);

    // The explorer: chain → its latest block → back to block 0 → entry 0, verified by the page.
    // Each step waits for the block it asked for: the page replaces its body only once the block is fetched.
    const heightShown = async (): Promise<number> =>
      Number(/, block (\d+)$/.exec((await page.locator('#explorer-body h3').first().textContent({ timeout: 20_000 })) ?? '')?.[1] ?? NaN);
    await row.locator('button').click();
    await expect.poll(heightShown, { timeout: 20_000 }).toBeGreaterThanOrEqual(0);
    for (let height = await heightShown(); height > 0; height--) {
      await page.getByText('← previous block').click();
      await expect.poll(heightShown, { timeout: 20_000 }).toBe(height - 1);
    }
    await page.locator('#entries button[data-seq="0"]').click();
    await page.waitForSelector('#verdict[data-state="verified"]', { timeout: 10_000 });
    const steps = await page.locator('#steps li').allTextContents();
    expect(steps.map((s) => s.split(':')[0])).toEqual([
      '✓ entry hash = SHA-256(content)',
      '✓ chainId = SHA-256(chain name)',
      expect.stringMatching(/^✓ block Merkle root from leaf 0 of 2/),
      expect.stringMatching(/^✓ entry block hash = SHA-256\(header of block 0/),
      expect.stringMatching(/^✓ directory Merkle root/),
      expect.stringMatching(/^✓ directory hash = SHA-256/),
    ]);
    const proof = (await (await gw.http('/v1/chains/watched/entries/0')).json()) as { directory: { hash: string } };
    expect(await page.locator('#verdict').textContent()).toContain(proof.directory.hash);
    expect(await page.textContent('#explorer-body')).toContain('hello from the test');
    expect(await page.locator('#verdict').textContent()).toMatch(/WebCrypto|verified/);
    await keepScreenshot(page, 'dashboard');

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
    expect(errors).toEqual([]);
    writer.close();
  }, 60_000);

  it('asks for a key in authenticated mode, refuses a wrong one, and shows an owner only its own chains', async () => {
    const gw = await startCreditGateway();
    const alice = await gw.account('alice');
    const bob = await gw.account('bob');
    await gw.chain('alice-chain', alice);
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

    // The key survives a reload of the tab (session storage), and the admin sees every chain.
    await page.reload();
    await page.waitForSelector('tr[data-chain="alice-chain"]');
    await page.click('#forget');
    await page.waitForSelector('#key-form:not([hidden])');
    await page.fill('#key', gw.adminKey);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('tr[data-chain="bob-chain"]');
    expect(await page.locator('tr[data-chain="alice-chain"]').count()).toBe(1);
    await keepScreenshot(page, 'dashboard-admin');
  }, 60_000);
});
