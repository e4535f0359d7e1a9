// Tampering: change stored or transmitted bytes just enough to break a check.

/** Flips bits of one byte in place. */
export function flipByte(bytes: Uint8Array, at: number, mask = 0x01): void {
  if (at < 0 || at >= bytes.length) throw new RangeError(`flipByte: ${at} outside ${bytes.length} bytes`);
  bytes.set([(bytes[at] ?? 0) ^ mask], at);
}

/** Replaces the hex digit at `at` with a different one, so the string stays valid hex of the same length. */
export function flipHex(hex: string, at = 0): string {
  const digit = hex[at] === '0' ? '1' : '0';
  return hex.slice(0, at) + digit + hex.slice(at + 1);
}
