// How sealing is going, as the front door learns it from the sealer's events:
// written by the commit hop (commits.ts), read by admission, /healthz, /readyz and the metrics.

export class SealProgress {
  directoryHeight: number;
  blocksCommitted = 0;
  entriesCommitted = 0;
  sealFailures = 0;
  /** Failed attempts since the last successful seal. */
  sealFailuresInRow = 0;
  lastSealError: string | null = null;

  constructor(directoryHeight: number) {
    this.directoryHeight = directoryHeight;
  }

  sealed(directoryHeight: number, blocks: number, entries: number): void {
    this.directoryHeight = directoryHeight;
    this.sealFailuresInRow = 0;
    this.blocksCommitted += blocks;
    this.entriesCommitted += entries;
  }

  failed(message: string): void {
    this.sealFailures++;
    this.sealFailuresInRow++;
    this.lastSealError = message;
  }

  /**
   * Why nothing accepted can become durable right now, or null. Isolated
   * failures are retried quietly; a run of `unhealthyAfter` of them, or a dead sealer, is trouble.
   */
  trouble(sealerAlive: boolean, unhealthyAfter: number): string | null {
    if (!sealerAlive) return 'the sealer thread stopped';
    if (this.sealFailuresInRow < unhealthyAfter) return null;
    return `${this.sealFailuresInRow} seals failed in a row (last error: ${this.lastSealError})`;
  }
}
