// The anchoring account's private key, read from a file only its owner can read.
import { ConfigError, readOwnerOnlyFile } from '../validation/index.js';

const KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/** The key as 0x-hex; throws a ConfigError naming the file and what is wrong with it (never the key). */
export function readAnchorKey(file: string, setting = 'anchors.ethereum.keyFile'): `0x${string}` {
  const text = readOwnerOnlyFile(file, setting);
  if (!KEY.test(text)) throw new ConfigError([`${setting} ${file}: does not hold a private key (64 hex digits, optionally after 0x)`]);
  return (text.startsWith('0x') ? text : `0x${text}`) as `0x${string}`;
}
