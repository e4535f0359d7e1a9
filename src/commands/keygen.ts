// `chainlanes keygen`: a new key, printed or written to a file only its owner reads.
import { closeSync, openSync, writeSync } from 'node:fs';
import { ADMIN_KEY_ENV } from '../credits/index.js';
import { ConfigError } from '../config/index.js';
import { print, printError } from './output.js';
import { stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';

export const keygenCommand: CommandSpec = {
  name: 'keygen',
  forms: ['[--out FILE]'],
  summary: `make a new key (for ${ADMIN_KEY_ENV} or --admin-key-file)`,
  description: [
    `Prints a new key, for ${ADMIN_KEY_ENV} or auth.adminKeyFile; with --out, writes it to a new FILE created`,
    'with mode 0600 (never readable by others, not even for a moment) and prints nothing of it.',
    'Exit status: 0 when done, 2 when FILE exists already (it is never overwritten).',
  ].join('\n'),
  flags: [{ name: 'out', value: 'FILE', help: 'write the key to this new file (mode 0600) instead of printing it' }],
  run: keygen,
};

async function keygen(args: ParsedArgs): Promise<void> {
  const { newKey } = await import('../credits/index.js');
  const out = stringFlag(args, 'out');
  if (out === undefined) return print(newKey());
  let fd: number;
  try {
    // 'wx': created here or refused, so an existing key (or a link planted in its place) is never overwritten.
    fd = openSync(out, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([
      `--out ${out}: ${code === 'EEXIST' ? 'exists already; a key file is never overwritten (remove it first)' : (error as Error).message}`,
    ]);
  }
  try {
    writeSync(fd, newKey() + '\n');
  } finally {
    closeSync(fd);
  }
  printError(`chainlanes keygen: a new key is in ${out} (mode 0600)`);
}
