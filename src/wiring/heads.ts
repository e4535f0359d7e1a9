// Signed heads of the directory log wired into a gateway (a part of the store
// phase: the key lives in the store). The key is opened on the main thread before the
// sealer starts (so a refused key stops the start), the sealer signs with it,
// the front door keeps the latest head and serves the routes.
import type { RootDatabase } from 'lmdb';
import type { GatewayConfig } from '../config/index.js';
import type { ClientBuffers, HttpRoutes } from '../defence/index.js';
import { CosignatureBook, openSigningKey, type SigningKey } from '../heads/index.js';
import { LatestHead, addDirectoryRoutes, proofHead, type ProofHead } from '../http/index.js';
import type { LedgerReadTask } from '../ledger/index.js';
import type { SealerEvent, SealerHeads } from '../sealer/index.js';
import type { HeadKeyView } from '../protocol/index.js';

export class GatewayHeads {
  readonly latest = new LatestHead();
  private readonly key: HeadKeyView | null;

  private constructor(
    private readonly signing: SigningKey | null,
    private readonly cosignatures: CosignatureBook | null,
    private readonly refreshMs: number,
  ) {
    this.key = signing === null ? null : { algorithm: 'ed25519', key: signing.publicKey.toString('hex'), fingerprint: signing.fingerprint };
  }

  /** Opens (or makes) the signing key in the store; with heads off, a GatewayHeads that signs and serves nothing. */
  static async open(environment: RootDatabase, config: GatewayConfig): Promise<GatewayHeads> {
    const { enabled, keyFile, refreshSeconds, witnesses } = config.heads;
    if (!enabled) return new GatewayHeads(null, null, 0);
    const signing = await openSigningKey(environment, keyFile, config.dataDir);
    const cosignatures = witnesses.length === 0 ? null : new CosignatureBook(environment, signing.publicKey, witnesses);
    return new GatewayHeads(signing, cosignatures, refreshSeconds * 1000);
  }

  /** The raw Ed25519 key of this gateway's heads (hex); null with heads off. A standby pins it (docs/replicas.md part 3). */
  get publicKeyHex(): string | null {
    return this.key?.key ?? null;
  }

  /** What the sealer thread signs with; null with heads off. */
  sealerOptions(): SealerHeads | null {
    if (this.signing === null) return null;
    return { privateKey: this.signing.privateKey.export({ format: 'der', type: 'pkcs8' }), refreshMs: this.refreshMs };
  }

  observe(event: SealerEvent): void {
    this.latest.observe(event);
  }

  proofHead(param: string | null): ProofHead {
    return proofHead(param, this.latest.get(), this.key);
  }

  addRoutes(routes: HttpRoutes, ledger: { read(task: LedgerReadTask): Promise<string | null> }, buffers: ClientBuffers): void {
    addDirectoryRoutes(routes, { key: this.key, latest: this.latest, ledger, cosignatures: this.cosignatures, buffers });
  }

  /** The `head` field of /healthz: the key and the latest head's size and time. */
  health(): { head: Record<string, unknown> | null } {
    if (this.key === null) return { head: null };
    const latest = this.latest.get();
    return { head: { key: this.key.key, fingerprint: this.key.fingerprint, size: latest?.size ?? null, time: latest?.time ?? null } };
  }
}
