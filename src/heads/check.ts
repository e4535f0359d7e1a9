// `chainlanes verify --data`: every head in the store must be signed by the
// store's key. The ledger's walk checks each head's root against the directory
// log it recomputes from the directory blocks (consistency with the log); this
// check adds the signature, under the public key the store records.
import type { RootDatabase } from 'lmdb';
import { headVerifier, type SignedHeadRecord, type StoreCheck } from '../ledger/index.js';
import { keyFingerprint, storedPublicKey } from './signing-key.js';

export class HeadSignatureCheck implements StoreCheck {
  private key: { verify: (head: SignedHeadRecord) => boolean; fingerprint: string } | null = null;
  private checked = 0;

  open(root: RootDatabase): void {
    const raw = storedPublicKey(root);
    if (raw !== null) this.key = { verify: headVerifier(raw), fingerprint: keyFingerprint(raw) };
  }

  begin(): undefined {
    return undefined;
  }

  block(): undefined {
    return undefined;
  }

  end(): undefined {
    return undefined;
  }

  head(head: SignedHeadRecord): string | undefined {
    if (this.key === null) return `a head is signed at size ${head.size}, but the store records no key for its heads`;
    if (!this.key.verify(head)) {
      return `the head signed at size ${head.size} (time ${head.time}) does not verify under the store's key ${this.key.fingerprint}`;
    }
    this.checked++;
    return undefined;
  }

  summary(): string {
    if (this.key === null) return 'signed heads: none (this store has never signed a head)';
    return `signed heads: ${this.checked}, each signed by the store's key ${this.key.fingerprint} and consistent with the directory log`;
  }
}
