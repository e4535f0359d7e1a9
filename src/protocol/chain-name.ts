// Chain names (docs/protocol.md §2 "Chains and names"): 1 to 128 bytes of [A-Za-z0-9._~-],
// URL-encoded in paths. The characters are all ASCII, so bytes = characters.

export const MAX_CHAIN_NAME_BYTES = 128;

const CHAIN_NAME = new RegExp(`^[A-Za-z0-9._~-]{1,${MAX_CHAIN_NAME_BYTES}}$`);

export const CHAIN_NAME_RULE = `a chain name is 1 to ${MAX_CHAIN_NAME_BYTES} characters of A-Z a-z 0-9 . _ ~ -`;

export function isChainName(name: string): boolean {
  return CHAIN_NAME.test(name);
}

/** The decoded chain name of a URL path segment, or null when it breaks the rule. */
export function parseChainName(raw: string): string | null {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return isChainName(name) ? name : null;
}
