// How sealing is going, as the front door learns it from the sealer's events:
// written by the commit hop (commits.ts), read by admission on every frame, by
// /healthz, /readyz and the metrics.

export class SealProgress {
  /** The highest directory sealed here (durable on this machine). */
  directoryHeight: number;
  /**
   * The highest directory whose `committed` notices went out: with standby
   * replicas, once the standby holds it (docs/replicas.md part 4); without,
   * the same as directoryHeight. Reads serve nothing above it (Kafka's high
   * watermark: a reader never sees what a failover could lose).
   */
  committedHeight: number;
  blocksCommitted = 0;
  entriesCommitted = 0;
  sealFailures = 0;
  /** Failed attempts since the last successful seal. */
  sealFailuresInRow = 0;
  lastSealError: string | null = null;
  /**
   * Why every frame is refused `busy` right now (seals keep failing: a full
   * disk, say), or null. Admission reads it per frame, so it is kept as a
   * field, changed only by `sealed` and `failed`.
   */
  refusal: string | null = null;
  private readonly unhealthyAfter: number;

  /** `unhealthyAfter`: failed seals in a row that count as trouble (ledger.unhealthyAfterSealFailures). */
  constructor(directoryHeight: number, unhealthyAfter: number) {
    this.directoryHeight = directoryHeight;
    this.committedHeight = directoryHeight;
    this.unhealthyAfter = unhealthyAfter;
  }

  sealed(directoryHeight: number, blocks: number, entries: number): void {
    this.directoryHeight = directoryHeight;
    this.sealFailuresInRow = 0;
    this.blocksCommitted += blocks;
    this.entriesCommitted += entries;
    this.refusal = null;
  }

  /** The notices of directory `height` went out (the commit hop's release). */
  released(height: number): void {
    this.committedHeight = Math.max(this.committedHeight, height);
  }

  failed(message: string): void {
    this.sealFailures++;
    this.sealFailuresInRow++;
    this.lastSealError = message;
    this.refusal = this.trouble(true);
  }

  /**
   * Why nothing accepted can become durable right now, or null. Isolated
   * failures are retried quietly; a run of `unhealthyAfter` of them, or a dead sealer, is trouble.
   */
  trouble(sealerAlive: boolean, unhealthyAfter = this.unhealthyAfter): string | null {
    if (!sealerAlive) return 'the sealer thread stopped';
    if (this.sealFailuresInRow < unhealthyAfter) return null;
    return `${this.sealFailuresInRow} seals failed in a row (last error: ${this.lastSealError})`;
  }
}
