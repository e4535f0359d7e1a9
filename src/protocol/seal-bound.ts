// The most a frame can add to a shipped seal (docs/replicas.md part 3), in
// bytes of the replica stream's `seal` message. With standby replicas the
// front door cuts the interval's blocks early once the frames admitted since
// the last cut could make a seal message over the stream's bound (admission's
// `maxCutBytes`), so no seal is too large to ship — bounded where seals are
// made, not split where they are sent: a seal is the standby's unit of check
// and of durability, and splitting it would need a second protocol for halves.
// The count is a worst case, not an estimate: an entry alone in its block, of
// a chain with the longest name, with a frame id row.
import { MAX_CHAIN_NAME_BYTES } from './chain-name.js';
import { DIRECTORY_HEADER_BYTES, ENTRY_BLOCK_HEADER_BYTES, HASH_BYTES } from './formats.js';
import { PRODUCER_BYTES } from './frame-id.js';

const ENTRY_IN_RECORD = HASH_BYTES + 4 + HASH_BYTES; // its hash, its content's end, at worst a chunk root of its own
const BLOCK_RECORD_FIXED = 1 + ENTRY_BLOCK_HEADER_BYTES + 8; // version, header, directory height
const DIRECTORY_LIST_ENTRY = HASH_BYTES + 8 + HASH_BYTES; // chainId, height, block hash
const FRAME_ID_ROW = HASH_BYTES + 8 + PRODUCER_BYTES + 8 + 4; // ledger.frameIds chainId ‖ seq → producer ‖ n ‖ count (ledger/frame-ids.ts)
const MSGPACK_PER_BLOCK = 32 + MAX_CHAIN_NAME_BYTES; // the {chain, record} map, its keys, the name, the binary's header

/** What each entry may add to a seal message beyond its content. */
export const SEAL_BYTES_PER_ENTRY = ENTRY_IN_RECORD + BLOCK_RECORD_FIXED + DIRECTORY_LIST_ENTRY + FRAME_ID_ROW + MSGPACK_PER_BLOCK;

/** A seal message's own bytes whatever it holds: the directory header, the signed head and its key, the map's keys. */
export const SEAL_MESSAGE_FIXED_BYTES = 1024 + DIRECTORY_HEADER_BYTES;

/** The most a frame of `entries` entries in `frameBytes` bytes adds to a seal message. */
export function sealBytesOfFrame(frameBytes: number, entries: number): number {
  return frameBytes + entries * SEAL_BYTES_PER_ENTRY;
}
