// `chainlanes bench`: the load generator and benchmarks (bench/run.ts), which parse their own flags.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../paths.js';
import type { CommandSpec, ParsedArgs } from './spec.js';

export const benchCommand: CommandSpec = {
  name: 'bench',
  forms: ['[bench flags…]'],
  summary: 'benchmarks and the load generator (same as npm run bench -- …)',
  description: 'The load generator and benchmarks; `chainlanes bench --help` lists their flags.',
  flags: [],
  ownParser: true,
  run: bench,
};

async function bench(args: ParsedArgs): Promise<void> {
  process.argv = [process.argv[0]!, 'bench', ...args.argv];
  await import(pathToFileURL(join(packageRoot(), 'dist', 'bench', 'run.js')).href);
}
