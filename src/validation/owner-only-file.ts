// Secrets kept in files (the admin key, the anchoring account's key): a file
// group or others can read holds no secret, so it is refused.
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from './refusals.js';

/** The file's text, trimmed; `setting` names it in a refusal (e.g. "auth.adminKeyFile"). Never shows the contents. */
export function readOwnerOnlyFile(file: string, setting: string): string {
  const unreadable = (error: unknown): ConfigError => new ConfigError([`${setting} ${file}: cannot be read (${error instanceof Error ? error.message : String(error)})`]);
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    mode = stat.mode & 0o777;
  } catch (error) {
    throw unreadable(error);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError([`${setting} ${file}: its mode ${mode.toString(8).padStart(4, '0')} lets group or others at it; make it the owner's alone: chmod 600 ${file}`]);
  }
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw unreadable(error);
  }
}
