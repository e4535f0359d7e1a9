// The short-lived child process of store-probe.ts: it reads the store through
// lmdb, where a damaged file may crash it, and tells its parent on stdout, one
// JSON object per line, what it is doing and what it found:
//   {"phase": "…"}          before each step, so a crash can be placed
//   {"progress": {…}}       verify: what has been checked so far (at most every 200 ms)
//   {"result": …}           heads: {"problem": string | null}; verify: the StoreReport
//   {"error": "…"}          lmdb or the check refused the store with an error
// Usage: store-probe-process.js heads DIR | verify DIR [CHECKS_MODULE_URL]
// (CHECKS_MODULE_URL: a module exporting `storeChecks(): StoreCheck[]`, run in the walk.)
import { checkHeads } from './store-check.js';
import { openTables } from './tables.js';
import { verifyStore } from './verify-store.js';
import type { StoreCheck, StoreReport } from './verify-store.js';

export type ProbeMode = 'heads' | 'verify';

export type ProbeLine = { phase: string } | { progress: StoreReport } | { result: { problem: string | null } | StoreReport } | { error: string };

const PROGRESS_EVERY_MS = 200;

function say(line: ProbeLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function heads(dir: string): Promise<void> {
  say({ phase: 'opening the store' });
  const tables = openTables(dir, true);
  try {
    say({ phase: 'reading the heads and the last seal' });
    say({ result: { problem: checkHeads(tables) } });
  } finally {
    await tables.root.close();
  }
}

/** The module's checks; what the module must export, its one contract with the ledger. */
export interface StoreChecksModule {
  storeChecks(): StoreCheck[];
}

async function checksOf(moduleUrl: string | undefined): Promise<StoreCheck[]> {
  if (moduleUrl === undefined) return [];
  const loaded = (await import(moduleUrl)) as Partial<StoreChecksModule>;
  if (typeof loaded.storeChecks !== 'function') throw new Error(`${moduleUrl} exports no storeChecks()`);
  return loaded.storeChecks();
}

async function verify(dir: string, checksModule: string | undefined): Promise<void> {
  const checks = await checksOf(checksModule);
  say({ phase: 'walking the ledger' });
  let said = 0;
  const report = await verifyStore(dir, {
    checks,
    onProgress: (checked) => {
      const now = Date.now();
      if (now - said < PROGRESS_EVERY_MS) return;
      said = now;
      say({ progress: checked });
    },
  });
  say({ result: report });
}

async function main(): Promise<void> {
  const [mode, dir, checksModule] = process.argv.slice(2);
  if (dir === undefined || (mode !== 'heads' && mode !== 'verify')) {
    say({ error: `usage: store-probe-process.js heads DIR | verify DIR [CHECKS_MODULE_URL] (got ${JSON.stringify(process.argv.slice(2))})` });
    return;
  }
  try {
    await (mode === 'heads' ? heads(dir) : verify(dir, checksModule));
  } catch (error) {
    say({ error: error instanceof Error ? error.message : String(error) });
  }
}

await main();
