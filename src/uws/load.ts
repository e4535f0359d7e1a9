// Which uWebSockets.js build runs here: the first of UWS_BUILDS whose native
// binary loads. A build that cannot load its binary is skipped with the reason;
// one that falls back to a pure-JS shim (20.30 does, silently but for a console
// warning) is refused: the shim is neither fast nor the same server. The choice
// is made once per process and kept, with every build's reason, for
// `chainlanes doctor` and the start-up error.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import type * as Uws20_57 from 'uws-20.57';

/** The uWS module as the code uses it (index.ts says how the other build differs). */
export type Uws = typeof Uws20_57;

export interface UwsBuild {
  /** Its name in package.json's optionalDependencies: an alias of the registry package. */
  readonly alias: string;
  /** The Node versions and C library its binaries serve (their file names give the ABIs, `objdump -T` the newest glibc symbol). */
  readonly serves: string;
}

/** Tried in this order: the newer build first, the one for older C libraries after it. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { alias: 'uws-20.57', serves: 'Node 20, 22, 24 and 25 on glibc ≥ 2.38' },
  { alias: 'uws-20.30', serves: 'Node 16, 18 and 20 on glibc ≥ 2.27' },
];

/** Names the one build to try (an alias above), for an operator who pins one and for tests. */
export const UWS_BUILD_ENV = 'CHAINLANES_UWS';

const SUPPORTED = 'chainlanes runs on Node 20 with glibc ≥ 2.27 (Debian 12), or on Node 22 or 24 with glibc ≥ 2.38 (Debian 13, Ubuntu 24.04)';

export interface UwsAttempt {
  readonly alias: string;
  /** The registry package behind the alias and its version; null when it is not installed. */
  readonly package: string | null;
  readonly version: string | null;
  readonly serves: string;
  readonly loaded: boolean;
  /** Why it runs, or why it does not. */
  readonly why: string;
}

export interface UwsChoice {
  /** The module of the build that loaded, null when none did. */
  readonly uws: Uws | null;
  /** The build that loaded, if any, and every build tried before it. */
  readonly attempts: readonly UwsAttempt[];
  /** Why no build runs here (one paragraph); null when one does. */
  readonly problem: string | null;
}

let chosen: UwsChoice | undefined;

/** The build this process runs on, chosen at the first call. */
export function chooseUws(): UwsChoice {
  chosen ??= choose(process.env[UWS_BUILD_ENV]);
  return chosen;
}

/** The uWS module, or an Error that names every build and why it cannot run here. */
export function loadUws(): Uws {
  const { uws, problem } = chooseUws();
  if (uws === null) throw new Error(problem ?? 'no uWebSockets.js build loaded');
  return uws;
}

/** The build that runs, as a log line names it: "uWebSockets.js 20.30.0-unofficial.0 (uws-20.30)". */
export function runningUws(): string {
  const build = chooseUws().attempts.find((a) => a.loaded);
  return build === undefined ? 'no uWebSockets.js build' : `uWebSockets.js ${build.version ?? '(unknown version)'} (${build.alias})`;
}

function choose(pinned: string | undefined): UwsChoice {
  const builds = pinned === undefined || pinned === '' ? UWS_BUILDS : UWS_BUILDS.filter((b) => b.alias === pinned);
  if (builds.length === 0) {
    const problem = `${UWS_BUILD_ENV}=${JSON.stringify(pinned)} names no uWebSockets.js build: expected one of ${UWS_BUILDS.map((b) => b.alias).join(', ')}, or unset to take the first that loads`;
    return { uws: null, attempts: [], problem };
  }
  const attempts: UwsAttempt[] = [];
  for (const build of builds) {
    const { uws, attempt } = tryBuild(build);
    attempts.push(attempt);
    if (uws !== null) return { uws, attempts, problem: null };
  }
  const reasons = attempts.map((a) => `${a.alias} (${a.package ?? 'not installed'} ${a.version ?? ''}, for ${a.serves}): ${a.why}`.replace(' ,', ','));
  const problem =
    `no native uWebSockets.js build loads on ${machine()}: ${reasons.join('; ')}. ${SUPPORTED}; ` +
    'reinstall with `npm ci` (it installs both builds), and do not set UWS_USE_FALLBACK';
  return { uws: null, attempts, problem };
}

function tryBuild(build: UwsBuild): { uws: Uws | null; attempt: UwsAttempt } {
  const require = createRequire(import.meta.url);
  const outcome = (loaded: boolean, why: string, manifest: Manifest | null = null): UwsAttempt => ({
    alias: build.alias,
    package: manifest?.name ?? null,
    version: manifest?.version ?? null,
    serves: build.serves,
    loaded,
    why,
  });
  let entry: string;
  try {
    entry = require.resolve(build.alias);
  } catch {
    return { uws: null, attempt: outcome(false, 'not installed (an install that omitted optional dependencies?)') };
  }
  const manifest = readManifest(build.alias, entry);
  const printed: string[] = [];
  let exported: unknown;
  try {
    exported = withConsoleCaptured(printed, () => require(entry) as unknown);
  } catch (error) {
    return { uws: null, attempt: outcome(false, reasonOf(error instanceof Error ? error.message : String(error)), manifest) };
  }
  if (!isNative(exported)) {
    const why = `${reasonOf(printed.join('\n'))}, and it fell back to its pure-JS shim, which chainlanes refuses to run on`;
    return { uws: null, attempt: outcome(false, why, manifest) };
  }
  return {
    uws: exported,
    attempt: outcome(
      true,
      `its native binary loaded (Node ${process.versions.node}, ABI ${process.versions.modules}, ${process.platform}-${process.arch})`,
      manifest,
    ),
  };
}

interface Manifest {
  name: string;
  version: string;
}

/**
 * The registry name and version behind an alias. Read from the file, not
 * required: 20.57's `exports` hide its package.json. An alias is always
 * installed as node_modules/<alias>/.
 */
function readManifest(alias: string, entry: string): Manifest | null {
  const folder = `${sep}node_modules${sep}${alias}${sep}`;
  const at = entry.lastIndexOf(folder);
  if (at < 0) return null;
  try {
    const { name, version } = JSON.parse(readFileSync(join(entry.slice(0, at + folder.length), 'package.json'), 'utf8')) as Partial<Manifest>;
    return typeof name === 'string' && typeof version === 'string' ? { name, version } : null;
  } catch {
    return null;
  }
}

/** A native build's App is a C++ function; a shim's is JavaScript. */
function isNative(exported: unknown): exported is Uws {
  const app = (exported as { App?: unknown } | null)?.App;
  return typeof app === 'function' && Function.prototype.toString.call(app).includes('[native code]');
}

/**
 * Runs `load` with console.log/warn captured into `into`: 20.30 reports why its
 * binary failed (and that it falls back) only on the console, which would also
 * corrupt `doctor --json` on stdout.
 */
function withConsoleCaptured<T>(into: string[], load: () => T): T {
  /* eslint-disable no-console -- swapped out for the load only, and put back whatever happens */
  const { log, warn } = console;
  console.log = console.warn = (...args: unknown[]) => {
    into.push(args.map(String).join(' '));
  };
  try {
    return load();
  } finally {
    console.log = log;
    console.warn = warn;
  }
  /* eslint-enable no-console */
}

/** One line from a build's loading error or warnings: the cause an operator can act on. */
function reasonOf(text: string): string {
  const glibc = /GLIBC_([\d.]+)' not found/.exec(text);
  if (glibc !== null) return `its binary needs glibc ${glibc[1]}, this machine has ${glibcVersion() ?? 'another C library'}`;
  if (/Cannot find module '[^']*uws_[a-z0-9]+_[a-z0-9]+_\d+\.node'/.test(text)) {
    return `it has no binary for Node ${process.versions.node} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`;
  }
  if (text.includes('UWS_USE_FALLBACK')) return 'UWS_USE_FALLBACK is set';
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.find((line) => line.startsWith('Error:')) ?? lines[0] ?? 'its binary did not load';
}

function glibcVersion(): string | null {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

function machine(): string {
  const glibc = glibcVersion();
  return `Node ${process.versions.node} (ABI ${process.versions.modules}), ${process.platform}-${process.arch}${glibc === null ? '' : `, glibc ${glibc}`}`;
}
