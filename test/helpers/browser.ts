// A real browser for the dashboard tests: Debian's chromium, driven by
// playwright-core, with a fresh profile that is removed after the test.
// `.ci/run` installs chromium when /usr/bin/chromium is missing.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { registerCleanup } from './cleanup.js';
import { ROOT } from './gateway.js';
import { tempDir } from './temp.js';

export const CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Screenshots and other things a test keeps for a person to look at (git-ignored). */
export const ARTIFACTS = join(ROOT, 'test', 'artifacts');

export interface BrowserPage {
  page: Page;
  context: BrowserContext;
  /** Errors the page threw or logged: a test asserts there are none. */
  errors: string[];
}

export async function openBrowser(): Promise<BrowserPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  const profile = tempDir('chainlanes-chromium-');
  // The fresh profile is chromium's --user-data-dir: playwright passes it as that flag itself.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 1000 },
  });
  registerCleanup('chromium', () => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return { page, context, errors };
}

/**
 * The README's pictures. The browser test takes them from a real gateway every
 * run (under test/artifacts/); with CHAINLANES_DOCS_IMAGES=1 it also writes them
 * here, to be committed — not on every run, so a test run leaves the tree clean.
 */
export const DOCS_IMAGES = join(ROOT, 'docs', 'images');
export const UPDATE_DOCS_IMAGES = process.env.CHAINLANES_DOCS_IMAGES === '1';

/** A picture of `target` (a page: its viewport; a locator: that element) under test/artifacts/, and docs/images/ when asked; its path and size. */
export async function keepPicture(target: Page | Locator, name: string): Promise<{ path: string; width: number; height: number }> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await target.screenshot({ path, animations: 'disabled' });
  if (UPDATE_DOCS_IMAGES) {
    mkdirSync(DOCS_IMAGES, { recursive: true });
    copyFileSync(path, join(DOCS_IMAGES, `${name}.png`));
  }
  return { path, ...pngSize(readFileSync(path)) };
}

/** A PNG's width and height from its IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!png.subarray(0, 8).equals(signature) || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/**
 * Lets the page reach the gateway at `origin` only: any other request is
 * aborted and listed (the page must work with no network beyond the gateway).
 * Also lists every URL requested, WebSockets included.
 */
export async function gatewayOnly(context: BrowserContext, page: Page, origin: string): Promise<{ requested: string[]; outside: string[] }> {
  const requested: string[] = [];
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requested.push(url);
    if (new URL(url).origin === origin) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('websocket', (ws) => {
    requested.push(ws.url());
    if (new URL(ws.url()).origin.replace(/^ws/, 'http') !== origin) outside.push(ws.url());
  });
  return { requested, outside };
}

/** Keeps a full-page screenshot under test/artifacts/ and returns its path. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
