// The anchor payload (docs/protocol.md "Anchors"): the exact bytes of an
// anchoring transaction's data, shared by the gateway that writes it and the
// client that looks for it in a block.

/** ASCII "CL1": format 1 of a chainlanes anchor. */
export const ANCHOR_MAGIC = 'CL1';

/** CL1 ‖ first directory height u64 ‖ last directory height u64 ‖ gateway id (32) ‖ window root (32). */
export const ANCHOR_PAYLOAD = {
  magic: 0,
  first: 3,
  last: 11,
  gateway: 19,
  root: 51,
  bytes: 83,
} as const;

/** The `network` of an anchor proof on an Ethereum (EIP-155) chain. */
export const ETHEREUM_NETWORK = 'ethereum';
