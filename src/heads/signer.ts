// Signs heads of the directory log: the 88-byte message of docs/protocol.md
// §13.2 under the gateway's Ed25519 key (node:crypto, RFC 8032). Runs on the
// sealer thread, inside each seal's transaction (ledger/log-store.ts).
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { HeadSigner } from '../ledger/index.js';
import { encodeHeadMessage } from '../protocol/index.js';
import { rawPublicKey } from './signing-key.js';

/**
 * A HeadSigner with `privateKey` (a KeyObject or its PKCS #8 DER). Times never
 * go back: a head is signed at the later of the clock and the last head's time
 * (`after`), so a clock stepped back cannot make a newer head look older.
 */
export function headSigner(privateKey: KeyObject | Uint8Array, after = 0, now: () => number = Date.now): HeadSigner {
  const key = privateKey instanceof Uint8Array ? createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' }) : privateKey;
  const logId = createHash('sha256').update(rawPublicKey(key)).digest();
  let last = after;
  return (size, root) => {
    const time = Math.max(now(), last);
    last = time;
    const signature = sign(null, encodeHeadMessage(logId, size, time, root), key);
    return { size, time, root, signature };
  };
}
