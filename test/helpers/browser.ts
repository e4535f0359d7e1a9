// A real browser for the dashboard tests: Debian's chromium, driven by
// playwright-core, with a fresh profile that is removed after the test.
// `.ci/run` installs chromium when /usr/bin/chromium is missing.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { registerCleanup } from './cleanup.js';
import { ROOT } from './gateway.js';
import { tempDir } from './temp.js';

export const CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
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
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 1000 },
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

/** Keeps a full-page screenshot under test/artifacts/ and returns its path. */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
