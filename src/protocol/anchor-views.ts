// JSON shapes of anchoring (docs/protocol.md "Anchors"). Types only.

/** Where a directory hash sits in its anchor window's tree. */
export interface AnchorWindowProof {
  /** First and last directory height of the window. */
  first: number;
  last: number;
  /** height - first. */
  index: number;
  /** last - first + 1. */
  count: number;
  /** RFC 6962 audit path of the directory hash, leaf side first, hex. */
  path: string[];
  /** The window root, hex: what the transaction carries. */
  root: string;
}

/** An entry proof's `anchor` part, present once its directory block is in a confirmed window. */
export interface AnchorProof {
  /** "ethereum". */
  network: string;
  /** The EIP-155 chain id. */
  networkId: number;
  window: AnchorWindowProof;
  /** Transaction hash, 0x-hex. */
  tx: string;
  blockNumber: number;
  /** 0x-hex. */
  blockHash: string;
  /** Gateway id, hex: SHA-256 of the gateway's store identity. */
  gateway: string;
}

/** One transaction signed for a window. All of a window's transactions share its nonce, so at most one of them lands. */
export interface AnchorAttemptView {
  /** Transaction hash, 0x-hex. */
  tx: string;
  /** EIP-1559 fee cap and tip, wei as decimal strings. */
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  signedAt: number;
  /** When the node first took it; null while it has not (not sent yet, or refused as priced too low). */
  sentAt: number | null;
}

/** One window of `GET /v1/anchors/windows` (and `windows` of `GET /v1/anchors`). */
export interface AnchorWindowView {
  first: number;
  last: number;
  count: number;
  root: string;
  /** signed: transaction recorded, not yet accepted by the node; sent: in the node's pool; included: in a block; confirmed: enough confirmations. */
  state: 'signed' | 'sent' | 'included' | 'confirmed';
  network: string;
  networkId: number;
  tx: string;
  nonce: number;
  blockNumber: number | null;
  blockHash: string | null;
  confirmations: number;
  /** How many times a reorganisation dropped the transaction and the window was sent again. */
  reanchors: number;
  createdAt: number;
  confirmedAt: number | null;
  /** Transactions re-signed with higher fees because the window's was not in a block in time. */
  bumps: number;
  /** Every transaction signed for the window's nonce, oldest first; `tx` is the one in a block once there is one. */
  attempts: AnchorAttemptView[];
  /** Entries in the window's directory blocks (null for a window recorded before entries were counted). */
  entries: number | null;
  /** Of the transaction in a block: gas used, the fee per gas paid and the fee (gasUsed × gasPriceWei), wei as decimal strings; null until included. */
  gasUsed: number | null;
  gasPriceWei: string | null;
  feeWei: string | null;
}
