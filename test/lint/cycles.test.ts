// No import cycle in src/: neither between files nor between folders. A cycle
// makes load order matter and hides which concept depends on which.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/index.js';

const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import and re-export of each file, types included. */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(SRC);
  const known = new Set(files);
  return new Map(
    files.map((file) => {
      const specifiers = [...readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'";]*?from\s+'(\.[^']+)'/g)].map((m) => m[1]!);
      return [file, specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))).filter((f) => known.has(f))];
    }),
  );
}

/** The cycles found by a depth-first walk, each as its path. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next, path);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node, []);
  return found;
}

/** A file's folder of src/; a file beside the folders (gateway.ts, paths.ts…) counts as one of its own. */
function folderOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

describe('src/ has no import cycle', () => {
  it('between files', () => {
    expect(cycles(importGraph()).map((c) => c.map((f) => relative(SRC, f)).join(' → '))).toEqual([]);
  });

  it('between folders', () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, imports] of importGraph()) {
      const from = folderOf(file);
      const edges = folders.get(from) ?? new Set<string>();
      for (const target of imports) if (folderOf(target) !== from) edges.add(folderOf(target));
      folders.set(from, edges);
    }
    const graph = new Map([...folders].map(([folder, edges]) => [folder, [...edges]]));
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });
});
