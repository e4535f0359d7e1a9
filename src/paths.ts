// Where the package's own files are, whether this code runs compiled (dist/src/…)
// or as TypeScript under vitest (src/…).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let root: string | undefined;

/** The folder holding chainlanes' package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'chainlanes') break;
    const up = dirname(dir);
    if (up === dir) throw new Error('chainlanes: cannot find the package root above ' + import.meta.url);
    dir = up;
  }
  root = dir;
  return dir;
}

/**
 * The compiled JavaScript file of the thread entry module `name` (a path
 * relative to `fromUrl`'s folder, without extension): the one way every thread
 * is loaded, in src and in tests. Worker threads cannot load TypeScript, so
 * when the caller is itself a .ts file (tests under vitest) the module is taken
 * from dist/, which `npm test` builds first; tsconfig.build.json builds the
 * tests' fixtures there too.
 */
export function workerFile(fromUrl: string, name: string): URL {
  const here = fileURLToPath(fromUrl);
  if (!here.endsWith('.ts')) return new URL(name + '.js', fromUrl);
  const rel = relative(packageRoot(), dirname(here));
  return pathToFileURL(join(packageRoot(), 'dist', rel, name + '.js'));
}
