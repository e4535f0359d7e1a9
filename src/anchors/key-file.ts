// The anchoring account's private key, read from a file only its owner can read.
import { readFileSync, statSync } from 'node:fs';

const KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/** The key as 0x-hex; throws an Error naming the file and what is wrong with it. */
export function readAnchorKey(file: string, setting = 'anchors.ethereum.keyFile'): `0x${string}` {
  let mode: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    mode = stat.mode & 0o777;
  } catch (error) {
    throw new Error(`${setting} ${file}: cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(`${setting} ${file}: its mode ${mode.toString(8).padStart(4, '0')} lets group or others read the key; chmod 600 ${file}`);
  }
  const text = readFileSync(file, 'utf8').trim();
  if (!KEY.test(text)) throw new Error(`${setting} ${file}: does not hold a private key (64 hex digits, optionally after 0x)`);
  return (text.startsWith('0x') ? text : `0x${text}`) as `0x${string}`;
}
