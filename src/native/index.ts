// Chooses the addon's implementation once per thread: the native addon built by
// `npm install` (native/, node-gyp), or the pure-JS fallback when it is missing, fails to
// load, or CHAINLANES_NATIVE=0 asks for it. Everything else imports its two faces from
// here: `hashing` (SHA-256 batches, Merkle roots, block bodies) and `system` (thread
// pinning, nice and names, file locks, malloc and page-cache hints).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { jsAddon } from './fallback.js';
import type { Hashing, NativeAddon, SystemCalls } from './addon.js';

export type { BlockPiece, Hashing, NativeAddon, SystemCalls } from './addon.js';
export { jsAddon };
export { yieldHelperThreads } from './helper-threads.js';
export { mayRunRealtime } from './privileges.js';

/** Where node-gyp puts the addon (package.json "install": node-gyp rebuild --directory native). */
export const nativeAddonPath: string = join(packageRoot(), 'native', 'build', 'Release', 'chainlanes_native.node');

const FUNCTIONS = [
  'pinThread',
  'setThreadNice',
  'setThreadRealtime',
  'nameThread',
  'sha256Spans',
  'gatherSpans',
  'copyBytes',
  'merkleRoot',
  'blockBody',
  'sha256',
  'tryLockFile',
  'keepFreedMemory',
  'dropFileCache',
  'watchLoopTurns',
  'unwatchLoopTurns',
] as const;

// require() of a .node file is typed `any`; it is received as `unknown` and only its shape can
// be checked here. The signatures themselves are fixed by native/src/addon.cc, and
// test/native compares every function against the fallback byte for byte.
function asAddon(addon: unknown): NativeAddon {
  if (typeof addon !== 'object' || addon === null) throw new Error('the addon exported no object');
  const exported = addon as Record<string, unknown>;
  const missing = FUNCTIONS.filter((name) => typeof exported[name] !== 'function');
  if (missing.length > 0) throw new Error(`the addon lacks ${missing.join(', ')} (stale build?)`);
  return Object.freeze({
    pinThread: exported.pinThread as NativeAddon['pinThread'],
    setThreadNice: exported.setThreadNice as NativeAddon['setThreadNice'],
    setThreadRealtime: exported.setThreadRealtime as NativeAddon['setThreadRealtime'],
    nameThread: exported.nameThread as NativeAddon['nameThread'],
    sha256Spans: exported.sha256Spans as NativeAddon['sha256Spans'],
    gatherSpans: exported.gatherSpans as NativeAddon['gatherSpans'],
    copyBytes: exported.copyBytes as NativeAddon['copyBytes'],
    merkleRoot: exported.merkleRoot as NativeAddon['merkleRoot'],
    blockBody: exported.blockBody as NativeAddon['blockBody'],
    sha256: exported.sha256 as NativeAddon['sha256'],
    tryLockFile: exported.tryLockFile as NativeAddon['tryLockFile'],
    keepFreedMemory: exported.keepFreedMemory as NativeAddon['keepFreedMemory'],
    dropFileCache: exported.dropFileCache as NativeAddon['dropFileCache'],
    watchLoopTurns: exported.watchLoopTurns as NativeAddon['watchLoopTurns'],
    unwatchLoopTurns: exported.unwatchLoopTurns as NativeAddon['unwatchLoopTurns'],
  });
}

interface LoadResult {
  readonly addon: NativeAddon | null;
  readonly error: string | null;
}

let loaded: LoadResult | undefined;

function load(): LoadResult {
  if (loaded !== undefined) return loaded;
  try {
    const addon: unknown = createRequire(import.meta.url)(nativeAddonPath);
    loaded = { addon: asAddon(addon), error: null };
  } catch (err) {
    // First line only: MODULE_NOT_FOUND appends a multi-line "Require stack" that says nothing new.
    const message = err instanceof Error ? err.message : String(err);
    loaded = { addon: null, error: message.split('\n', 1)[0] ?? message };
  }
  return loaded;
}

/**
 * The native implementation if the addon loads, whatever CHAINLANES_NATIVE says (so tests
 * and benchmarks can compare it with `jsAddon`); null when it cannot be loaded.
 */
export function nativeAddon(): NativeAddon | null {
  return load().addon;
}

// Every lane worker imports this module, so a failure would be reported once per thread.
// The marker (this process's pid in its env) is copied into workers spawned after the first
// report, which keeps them quiet; child processes have another pid and still report.
const WARNED = 'CHAINLANES_NATIVE_WARNED';

function warnOnce(text: string): void {
  if (process.env[WARNED] === String(process.pid)) return;
  process.env[WARNED] = String(process.pid);
  process.stderr.write(text);
}

const disabled = process.env.CHAINLANES_NATIVE === '0';
const chosen: LoadResult = disabled ? { addon: null, error: 'disabled by CHAINLANES_NATIVE=0' } : load();

const implementation: NativeAddon = chosen.addon ?? jsAddon;
/** The data layer's hashing, as everyone should use it. */
export const hashing: Hashing = implementation;
/** Thread placement, file locks and memory hints, as everyone should use them. */
export const system: SystemCalls = implementation;
/** Whether `hashing` and `system` are the native addon. */
export const nativeLoaded: boolean = chosen.addon !== null;
/** Why they are the fallback (including "disabled by CHAINLANES_NATIVE=0"); null when native. */
export const nativeLoadError: string | null = chosen.error;

if (disabled) {
  warnOnce('chainlanes: CHAINLANES_NATIVE=0, using pure-JS hashing (slower) and no thread pinning\n');
} else if (!nativeLoaded) {
  const rule = '='.repeat(78);
  warnOnce(
    [
      rule,
      'chainlanes: WARNING: native addon not loaded, running on the SLOW pure-JS fallback',
      `  cause:  ${nativeLoadError ?? 'unknown'}`,
      `  addon:  ${nativeAddonPath}`,
      '  effect: SHA-256 and Merkle roots via node:crypto; lane threads are NOT pinned to cores',
      '  fix:    rebuild with `npm run install` (needs python3, make and a C++ compiler),',
      '          or set CHAINLANES_NATIVE=0 to choose the fallback deliberately',
      rule,
      '',
    ].join('\n'),
  );
}

export { THREAD_GROUPS, THREAD_NAMES, laneThreadName, threadGroup, type ThreadGroup } from './thread-names.js';
