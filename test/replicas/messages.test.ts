// The shipping stream's messages (src/replicas/messages.ts): each kind round
// trips, and everything a hostile peer can put in one is refused by name
// (`bad_message`, saying which field) before anything uses it.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { DIRECTORY_HEADER } from '../../src/protocol/index.js';
import { directoryRecordBytes, FRAME_ID_ROW_BYTES, HEAD_RECORD_BYTES } from '../../src/ledger/index.js';
import { ReplicaStreamError, decodeMessage, encodeMessage, encodeSealParts, type ReplicaMessage, type SealMessage } from '../../src/replicas/index.js';

const record = Buffer.from('a block record');
const seal: ReplicaMessage = {
  type: 'seal',
  directory: Buffer.alloc(directoryRecordBytes(1), 1),
  head: Buffer.alloc(HEAD_RECORD_BYTES, 2),
  headKey: 'ab'.repeat(32),
  blocks: [{ chain: 'bank', record }],
  frameIds: Buffer.alloc(2 * FRAME_ID_ROW_BYTES, 3),
  credits: Buffer.from('credits'),
};

function refusal(bytes: Uint8Array, maxBlocks = 4): string {
  try {
    decodeMessage(bytes, maxBlocks);
  } catch (error) {
    expect(error).toBeInstanceOf(ReplicaStreamError);
    expect((error as ReplicaStreamError).code).toBe('bad_message');
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('replica stream messages', () => {
  it('each kind round trips', () => {
    const messages: ReplicaMessage[] = [
      { type: 'hello', owner: 'g1', acked: -1, store: 'ab'.repeat(32) },
      { type: 'durable', directory: 2 ** 40 },
      { type: 'error', code: 'refused', message: 'why' },
      seal,
    ];
    for (const m of messages) expect(decodeMessage(encodeMessage(m), 4)).toEqual(m);
  });

  it('a seal in pieces (its records not copied) is the bytes of the seal in one, whatever the sizes of its headers', () => {
    const sizes = [0, 5, 255, 256, 65_535, 65_536, 300_000];
    const blocks = (n: number) => Array.from({ length: n }, (_, i) => ({ chain: `chain-${i}`, record: Buffer.alloc(sizes[i % sizes.length]!, i) }));
    const seals: SealMessage[] = [
      seal as SealMessage,
      { ...(seal as SealMessage), blocks: blocks(7), head: null, headKey: null },
      { ...(seal as SealMessage), blocks: blocks(17) },
      {
        ...(seal as SealMessage),
        blocks: blocks(3).map((b) => ({ ...b, record: new Uint8Array(b.record) })),
        directory: new Uint8Array(directoryRecordBytes(3)),
      },
      { ...(seal as SealMessage), blocks: [], frameIds: new Uint8Array(0), credits: null, superseded: { by: 'g2', token: 7, at: 1 } },
    ];
    for (const m of seals) {
      const { parts, bytes } = encodeSealParts(m);
      const whole = Buffer.concat(parts);
      expect(bytes).toBe(whole.byteLength);
      expect(whole.equals(encodeMessage(m))).toBe(true);
      // Each record is a piece of its own: the very memory, not a copy.
      for (const block of m.blocks) expect(parts.some((part) => part === block.record)).toBe(true);
    }
  });

  it('refuses what is not a message of the stream, naming the field', () => {
    expect(refusal(Buffer.from([0x82, 0xa1]))).toMatch(/^not msgpack \(Unexpected end/);
    expect(refusal(Buffer.from([0xc1]))).toBe('unknown message type undefined'); // msgpackr's marker object for the unused byte
    expect(refusal(pack([1, 2]))).toBe('not a msgpack map');
    expect(refusal(pack(Buffer.from('bytes')))).toBe('not a msgpack map');
    expect(refusal(pack({ type: 'sea' }))).toBe('unknown message type "sea"');
    expect(refusal(pack({ type: 7 }))).toBe('unknown message type 7');
    expect(refusal(pack({ type: 'durable', directory: -1 }))).toBe('durable: directory must be an integer ≥ 0');
    expect(refusal(pack({ type: 'durable', directory: 1.5 }))).toBe('durable: directory must be an integer ≥ 0');
    expect(refusal(pack({ type: 'durable', directory: 2 ** 60 }))).toBe('durable: directory must be an integer ≥ 0');
    expect(refusal(pack({ type: 'hello', owner: 'g1', acked: -2, store: 's' }))).toBe('hello: acked must be an integer ≥ -1');
    expect(refusal(pack({ type: 'hello', owner: 'g1', acked: 0, store: 'x'.repeat(129) }))).toMatch(/^hello: store must be a string of at most 128/);
    expect(refusal(pack({ type: 'error', code: 'x', message: 'y'.repeat(1025) }))).toMatch(/^error: message must be a string of at most 1024/);
  });

  it('refuses a seal with a field of the wrong type, too many blocks, or a block that is not {chain name, binary}', () => {
    const base = { ...seal };
    expect(refusal(pack({ ...base, directory: 'text' }))).toBe('seal: directory must be binary');
    expect(refusal(pack({ ...base, directory: new Date() }))).toBe('seal: directory must be binary');
    expect(refusal(pack({ ...base, blocks: [] }))).toBe('seal: blocks must be a list of 1 to 4 {chain, record}');
    expect(refusal(pack({ ...base, blocks: Array.from({ length: 5 }, () => ({ chain: 'bank', record })) }))).toBe(
      'seal: blocks must be a list of 1 to 4 {chain, record}',
    );
    expect(refusal(pack({ ...base, blocks: [{ chain: '../etc', record }] }))).toBe('seal: block 0 must be {chain: a chain name, record: binary}');
    expect(
      refusal(
        pack({
          ...base,
          blocks: [
            { chain: 'bank', record },
            { chain: 'bank', record: 'text' },
          ],
        }),
      ),
    ).toBe('seal: block 1 must be {chain: a chain name, record: binary}');
    expect(refusal(pack({ ...base, head: 3 }))).toBe('seal: head must be binary or nil');
    expect(refusal(pack({ ...base, head: Buffer.alloc(HEAD_RECORD_BYTES - 1) }))).toBe(
      `seal: head must be a signed head record of ${HEAD_RECORD_BYTES} bytes or nil`,
    );
    expect(refusal(pack({ ...base, directory: Buffer.alloc(directoryRecordBytes(2)) }))).toMatch(
      /^seal: directory must be a directory record listing its 1 blocks/,
    );
    expect(refusal(pack({ ...base, frameIds: Buffer.alloc(FRAME_ID_ROW_BYTES + 1) }))).toBe(`seal: frameIds must be rows of ${FRAME_ID_ROW_BYTES} bytes`);
    expect(refusal(pack({ ...base, headKey: 'AB'.repeat(32) }))).toMatch(/^seal: headKey must be an Ed25519 public key/);
    expect(refusal(pack({ ...base, headKey: 7 }))).toMatch(/^seal: headKey must be an Ed25519 public key/);
    // Without a head, a head key or frame ids (heads off, no ids): nil, and frameIds read as empty rows.
    expect(decodeMessage(pack({ ...base, head: null, headKey: null, frameIds: null }), 4)).toMatchObject({
      head: null,
      headKey: null,
      frameIds: new Uint8Array(0),
    });
    expect(refusal(pack({ ...base, credits: { x: 1 } }))).toBe('seal: credits must be binary or nil');
    // A standby reads no seal at all (its bound is 0 blocks).
    expect(refusal(encodeMessage(seal), 0)).toBe('seal: blocks must be a list of 1 to 0 {chain, record}');
  });

  it('carries a superseded seal: its directory, head and truncation mark, and nothing of the blocks', () => {
    /** A directory record (version 1 ‖ header ‖ list) whose header says it lists `count` blocks, `length` bytes long. */
    const directory = (count: number, length = directoryRecordBytes(count)): Buffer => {
      const bytes = Buffer.alloc(length);
      bytes[0] = 1;
      bytes.writeUInt32BE(count, 1 + DIRECTORY_HEADER.count);
      return bytes;
    };
    const mark = { by: 'g2', token: 900, at: 1_700_000_100_000 };
    const superseded: ReplicaMessage = { ...seal, directory: directory(3), blocks: [], frameIds: new Uint8Array(0), credits: null, superseded: mark };
    expect(decodeMessage(encodeMessage(superseded), 4)).toEqual(superseded);
    const base = { ...superseded };
    expect(refusal(pack({ ...base, blocks: [{ chain: 'bank', record }] }))).toBe('seal: a superseded seal carries no blocks (blocks must be an empty list)');
    expect(refusal(pack({ ...base, blocks: null }))).toBe('seal: a superseded seal carries no blocks (blocks must be an empty list)');
    expect(refusal(pack({ ...base, frameIds: Buffer.alloc(FRAME_ID_ROW_BYTES) }))).toBe('seal: a superseded seal carries no frame ids');
    expect(refusal(pack({ ...base, credits: Buffer.from('credits') }))).toBe('seal: a superseded seal carries no credit records');
    expect(refusal(pack({ ...base, directory: directory(3, directoryRecordBytes(2)) }))).toMatch(
      /^seal: directory must be a directory record listing 1 to 4 blocks/,
    );
    expect(refusal(pack({ ...base, directory: directory(5) }))).toMatch(/^seal: directory must be a directory record listing 1 to 4 blocks/);
    expect(refusal(pack({ ...base, directory: directory(0) }))).toMatch(/^seal: directory must be a directory record listing 1 to 4 blocks/);
    expect(refusal(pack({ ...base, directory: Buffer.from([1, 2]) }))).toMatch(/^seal: directory must be a directory record \(directory record: bad version/);
    expect(refusal(pack({ ...base, head: Buffer.alloc(3) }))).toBe(`seal: head must be a signed head record of ${HEAD_RECORD_BYTES} bytes or nil`);
    // The mark's bounds are the truncation's (src/ledger/truncation.ts).
    expect(refusal(pack({ ...base, superseded: 'g2' }))).toBe('seal: superseded must be a truncation mark {by, token, at}: it is not {by, token, at}');
    expect(refusal(pack({ ...base, superseded: { ...mark, by: 'x'.repeat(257) } }))).toMatch(
      /^seal: superseded must be .*"by" must name the gateway that took over \(1–256/,
    );
    expect(refusal(pack({ ...base, superseded: { ...mark, token: 1.5 } }))).toMatch(/"token" must be the takeover's fencing token/);
    expect(refusal(pack({ ...base, superseded: { ...mark, at: -1 } }))).toMatch(/"at" must be a time in ms/);
    // nil is no mark: then it is an ordinary seal, and one without blocks is refused as such.
    expect(refusal(pack({ ...base, superseded: null }))).toBe('seal: blocks must be a list of 1 to 4 {chain, record}');
  });
});
