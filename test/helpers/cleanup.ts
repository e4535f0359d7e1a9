// What a test starts (gateway processes, sockets, child processes, temp dirs)
// registers its release here, and the hooks installed by setup.ts run the
// releases whatever the test's outcome: a failed assertion leaks nothing.
//
// Two scopes: what is registered while a test runs (its body, its beforeEach)
// is released right after that test; what is registered outside any test
// (beforeAll, module top level) is released after the file's last test.
import { afterAll, afterEach, beforeEach } from 'vitest';

interface Release {
  what: string;
  run: () => unknown;
}

const fileScope: Release[] = [];
let testScope: Release[] | null = null;
let installed = false;

/** Runs `release` after the current test (or, outside a test, after the file), last registered first. */
export function registerCleanup(what: string, release: () => unknown): void {
  // Without the hooks nothing would ever run the release: fail loudly rather than leak.
  if (!installed) throw new Error(`registerCleanup(${what}): test/helpers/setup.ts is not loaded (setupFiles in vitest.config.ts)`);
  (testScope ?? fileScope).push({ what, run: release });
}

/** Called once, from setup.ts (a vitest setup file, so these hooks wrap every test of every file). */
export function installCleanupHooks(): void {
  installed = true;
  beforeEach(() => {
    testScope = [];
  });
  // Setup-file hooks are registered first, and after-hooks run in reverse order ('stack'):
  // a test file's own afterEach/afterAll still see everything running.
  afterEach(async () => {
    const releases = testScope ?? [];
    testScope = null;
    await releaseAll(releases);
  });
  afterAll(async () => {
    await releaseAll(fileScope.splice(0));
  });
}

/** Last registered first (a gateway before the data dir it runs on); every release runs even if one fails. */
async function releaseAll(releases: Release[]): Promise<void> {
  const failures: Error[] = [];
  for (const release of releases.reverse()) {
    try {
      await release.run();
    } catch (error) {
      failures.push(new Error(`cleanup of ${release.what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => f.message).join('\n'));
}
