// Co-signatures of witnesses (docs/protocol.md §13.6): a monitor that checked a
// head signs it too and posts the co-signature; the gateway keeps each
// configured witness's newest one and serves them beside its head. Only keys
// listed in heads.witnesses are heard (anyone else is refused before any
// signature is checked), and each witness has one row, so what is kept is
// bounded by the config.
import { createHash, verify, type KeyObject } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  HASH_BYTES,
  encodeCosignatureMessage,
  encodeHeadMessage,
  type Cosignature,
  type ErrorCode,
  type SignedHead,
} from '../protocol/index.js';
import { publicKeyObject } from './signing-key.js';

export interface Refused {
  code: ErrorCode;
  message: string;
}

export class CosignatureBook {
  private readonly held = new Map<string, Cosignature>();
  private readonly witnessKeys = new Map<string, KeyObject>();
  private readonly gatewayKey: KeyObject;
  private readonly logId: Buffer;
  private readonly table: Database<Buffer, Buffer>;

  /** `witnesses`: hex public keys (heads.witnesses); `gatewayPublicKey`: the raw key of this gateway's heads. */
  constructor(
    private readonly root: RootDatabase,
    gatewayPublicKey: Buffer,
    witnesses: readonly string[],
  ) {
    this.gatewayKey = publicKeyObject(gatewayPublicKey);
    this.logId = createHash('sha256').update(gatewayPublicKey).digest();
    for (const witness of witnesses) this.witnessKeys.set(witness.toLowerCase(), publicKeyObject(Buffer.from(witness, 'hex')));
    this.table = root.openDB<Buffer, Buffer>('heads.cosignatures', { keyEncoding: 'binary', encoding: 'binary' });
    for (const { value } of this.table.getRange({})) {
      const cosignature = JSON.parse(value.toString('utf8')) as Cosignature;
      // A witness taken out of the config is no longer served.
      if (this.witnessKeys.has(cosignature.witness)) this.held.set(cosignature.witness, cosignature);
    }
  }

  /** The newest co-signature of each configured witness, newest head first. */
  list(): Cosignature[] {
    return [...this.held.values()].sort((a, b) => b.head.size - a.head.size || b.head.time - a.head.time);
  }

  /**
   * Checks a posted co-signature (of a head this gateway signed, of size up to
   * `latestSize`) and keeps it unless the witness's held one is newer. Resolves
   * with the one now held, durable; or with why it was refused.
   */
  async accept(body: unknown, latestSize: number): Promise<Cosignature | Refused> {
    const posted = shapeOf(body);
    if ('code' in posted) return posted;
    const witnessKey = this.witnessKeys.get(posted.witness);
    if (witnessKey === undefined) return { code: 'forbidden', message: `witness ${posted.witness} is not one of this gateway's heads.witnesses` };
    const { head } = posted;
    if (head.size > latestSize) return { code: 'bad_request', message: `head.size ${head.size} is beyond the latest head of size ${latestSize}` };
    const headMessage = encodeHeadMessage(this.logId, head.size, head.time, Buffer.from(head.root, 'hex'));
    if (!verify(null, headMessage, this.gatewayKey, Buffer.from(head.signature, 'hex'))) {
      return { code: 'bad_request', message: `the head of size ${head.size} is not signed by this gateway's key` };
    }
    if (!verify(null, encodeCosignatureMessage(posted.time, headMessage), witnessKey, Buffer.from(posted.signature, 'hex'))) {
      return { code: 'bad_request', message: `the co-signature does not verify under witness ${posted.witness}'s key` };
    }
    const held = this.held.get(posted.witness);
    if (held !== undefined && (held.head.size > head.size || (held.head.size === head.size && held.time >= posted.time))) return held;
    await this.table.put(Buffer.from(posted.witness, 'hex'), Buffer.from(JSON.stringify(posted)));
    await this.root.flushed;
    this.held.set(posted.witness, posted);
    return posted;
  }
}

/** The posted body as a Cosignature with lowercase hex, or why it is not one. */
function shapeOf(body: unknown): Cosignature | Refused {
  const bad = (message: string): Refused => ({ code: 'bad_request', message });
  if (!isObject(body)) return bad('the body must be a JSON object {witness, time, signature, head}');
  const head = body.head;
  if (!isObject(head)) return bad('head must be an object {size, time, root, signature}');
  // Each field: 'count' (a non-negative integer) or the bytes of its hex.
  const fields: [string, unknown, 'count' | number][] = [
    ['witness', body.witness, ED25519_PUBLIC_KEY_BYTES],
    ['time', body.time, 'count'],
    ['signature', body.signature, ED25519_SIGNATURE_BYTES],
    ['head.size', head.size, 'count'],
    ['head.time', head.time, 'count'],
    ['head.root', head.root, HASH_BYTES],
    ['head.signature', head.signature, ED25519_SIGNATURE_BYTES],
  ];
  for (const [name, value, rule] of fields) {
    if (
      rule === 'count'
        ? !(Number.isSafeInteger(value) && (value as number) >= 0)
        : !(typeof value === 'string' && value.length === 2 * rule && /^[0-9a-f]*$/i.test(value))
    ) {
      return bad(`${name} must be ${rule === 'count' ? 'a non-negative integer' : `${2 * rule} hex digits`}`);
    }
  }
  const signed: SignedHead = {
    size: head.size as number,
    time: head.time as number,
    root: (head.root as string).toLowerCase(),
    signature: (head.signature as string).toLowerCase(),
  };
  return { witness: (body.witness as string).toLowerCase(), time: body.time as number, signature: (body.signature as string).toLowerCase(), head: signed };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
