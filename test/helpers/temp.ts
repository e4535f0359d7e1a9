import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCleanup } from './cleanup.js';

/** A fresh directory under the OS temp dir, removed after the test (or, made outside a test, after the file). */
export function tempDir(prefix = 'chainlanes-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registerCleanup(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
