// Looking at a store before trusting it. lmdb trusts its file: damage in the
// wrong place makes it read outside the mapped file and the process dies of
// SIGSEGV or SIGBUS, with no message and nothing in-process to catch. So:
//
//   1. lmdb-file.ts reads the meta pages and the free-page list with plain
//      file reads (the parts a write trusts blindly), in-process;
//   2. a child process (store-probe-process.ts) then reads the store through
//      lmdb: the heads against the last seal for `serve`, the whole ledger
//      for `verify`. If lmdb crashes there, the parent reports it.
//
// The child costs a Node start and an lmdb open, plus reading each chain's
// last two blocks (a gateway's start-up reads the last ones once more anyway).
// Measured on the 2-core dev VM: ~100 ms for a store of 10 chains (Node itself
// ~50 ms of it), ~190 ms for 1,000 chains (the same heads read in-process: 50 ms).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerFile } from '../paths.js';
import { StoreCorruptError } from './errors.js';
import { checkLmdbFile, LmdbFileError } from './lmdb-file.js';
import type { LmdbFileReport } from './lmdb-file.js';
import type { ProbeLine, ProbeMode } from './store-probe-process.js';
import { STORE_DATA_FILE, assertStoreExists } from './tables.js';
import type { StoreReport } from './verify-store.js';

/** A file check that fails this many times in a row is damage, not a torn read of a page a writer was replacing. */
const FILE_CHECK_ATTEMPTS = 3;
const FILE_CHECK_PAUSE_MS = 25;
/** The heads probe reads O(chains) records; far longer than this is a hang, not work. */
const HEADS_PROBE_TIMEOUT_MS = 120_000;

/** lmdb errors that mean the file is damaged (not, say, a permission or a full disk). */
const LMDB_DAMAGE = /\bMDB_(CORRUPTED|PAGE_NOTFOUND|INCOMPATIBLE|INVALID|VERSION_MISMATCH|BAD_VALSIZE|BAD_DBI|PANIC)\b/;

/**
 * Checks lmdb's meta pages and free-page list in `dir` (see lmdb-file.ts);
 * throws StoreCorruptError naming the damage. Safe while a gateway writes: a
 * page read while it was being replaced is read again before it counts.
 */
export async function checkStoreFile(dir: string): Promise<LmdbFileReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return checkLmdbFile(dir, { freeList: true });
    } catch (error) {
      if (!(error instanceof LmdbFileError)) throw error;
      if (attempt >= FILE_CHECK_ATTEMPTS) throw new StoreCorruptError(dir, error.message);
      await new Promise((resolve) => setTimeout(resolve, FILE_CHECK_PAUSE_MS));
    }
  }
}

/**
 * Start-up's check of an existing store in `dir`: the lmdb file, then, in a
 * child process, the heads against the last seal (store-check.ts). Throws
 * StoreCorruptError with the reason. A directory without a store passes: the
 * gateway creates one.
 */
export async function probeStore(dir: string): Promise<void> {
  if (!existsSync(join(dir, STORE_DATA_FILE))) return;
  await checkStoreFile(dir);
  const outcome = await runProbe('heads', dir, HEADS_PROBE_TIMEOUT_MS);
  const result = outcome.result;
  if (outcome.crashed !== null) throw new StoreCorruptError(dir, `lmdb crashed ${outcome.phase} (${outcome.crashed})`);
  if (outcome.error !== null) throw probeError(dir, outcome.error);
  if (result === null || !('problem' in result))
    throw new Error(`the store check of ${dir} ended without a result${outcome.stderr === '' ? '' : `: ${outcome.stderr}`}`);
  if (result.problem !== null) throw new StoreCorruptError(dir, result.problem);
}

/**
 * `chainlanes verify`: verifyStore in a child process, after the file check.
 * A store lmdb cannot read, or crashes on, is reported broken with what was
 * checked before, rather than taking this process down. `checksModule`: a
 * module whose `storeChecks()` gives the checks of other modules' tables
 * (StoreCheck) to run in the same walk — the ledger cannot name them, and
 * one walk reads the store once.
 */
export async function verifyStoreIsolated(dir: string, checksModule?: URL): Promise<StoreReport> {
  assertStoreExists(dir);
  const nothing = { chains: 0, blocks: 0, entries: 0, directories: 0 };
  try {
    await checkStoreFile(dir);
  } catch (error) {
    if (error instanceof StoreCorruptError) return { ok: false, ...nothing, firstBreak: error.message };
    throw error;
  }
  const outcome = await runProbe('verify', dir, null, checksModule);
  const checked = outcome.progress ?? { ok: true, ...nothing };
  const counts = { chains: checked.chains, blocks: checked.blocks, entries: checked.entries, directories: checked.directories };
  if (outcome.crashed !== null)
    return { ok: false, ...counts, firstBreak: new StoreCorruptError(dir, `lmdb crashed ${outcome.phase} (${outcome.crashed})`).message };
  if (outcome.error !== null) {
    const error = probeError(dir, outcome.error);
    if (error instanceof StoreCorruptError) return { ok: false, ...counts, firstBreak: error.message };
    throw error;
  }
  const result = outcome.result;
  if (result === null || !('ok' in result))
    throw new Error(`the verify process for ${dir} ended without a report${outcome.stderr === '' ? '' : `: ${outcome.stderr}`}`);
  return result;
}

function probeError(dir: string, message: string): Error {
  return LMDB_DAMAGE.test(message) ? new StoreCorruptError(dir, `lmdb cannot read it: ${message}`) : new Error(`cannot read the store in ${dir}: ${message}`);
}

interface ProbeOutcome {
  /** The signal the child died of (SIGSEGV, SIGBUS…), or null. */
  crashed: NodeJS.Signals | null;
  /** What it was doing last, phrased to follow "lmdb crashed". */
  phase: string;
  progress: StoreReport | null;
  result: { problem: string | null } | StoreReport | null;
  error: string | null;
  stderr: string;
}

function runProbe(mode: ProbeMode, dir: string, timeoutMs: number | null, checksModule?: URL): Promise<ProbeOutcome> {
  const file = workerFile(import.meta.url, 'store-probe-process');
  const args = [fileURLToPath(file), mode, dir, ...(checksModule === undefined ? [] : [checksModule.href])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const outcome: ProbeOutcome = { crashed: null, phase: 'starting', progress: null, result: null, error: null, stderr: '' };
  let pending = '';
  const take = (line: string): void => {
    if (line === '') return;
    let parsed: ProbeLine;
    try {
      parsed = JSON.parse(line) as ProbeLine;
    } catch {
      outcome.stderr += line + '\n';
      return;
    }
    if ('phase' in parsed) outcome.phase = `while ${parsed.phase}`;
    else if ('progress' in parsed) outcome.progress = parsed.progress;
    else if ('result' in parsed) outcome.result = parsed.result;
    else outcome.error = parsed.error;
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(take);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    outcome.stderr = (outcome.stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer =
      timeoutMs === null
        ? null
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs);
    child.once('error', (error) => {
      if (timer !== null) clearTimeout(timer);
      reject(new Error(`cannot start the store check process: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer);
      take(pending);
      outcome.stderr = outcome.stderr.trim();
      if (timedOut) {
        reject(new Error(`the store check of ${dir} did not finish in ${(timeoutMs ?? 0) / 1000} s (it was ${outcome.phase.replace(/^while /, '')})`));
        return;
      }
      outcome.crashed = signal;
      if (signal === null && code !== 0 && outcome.error === null)
        outcome.error = `the check process exited with status ${code}${outcome.stderr === '' ? '' : `: ${outcome.stderr}`}`;
      resolve(outcome);
    });
  });
}
