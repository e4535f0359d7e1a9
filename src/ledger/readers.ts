// The front door's handle on the ledger reader threads.
import { Piscina } from 'piscina';
import { workerFile } from '../paths.js';
import type { LedgerReadTask, LedgerReaderData } from './reader-messages.js';

export class LedgerReaders {
  private readonly pool: Piscina;

  constructor(dataDir: string, threads: number) {
    const workerData: LedgerReaderData = { dataDir };
    this.pool = new Piscina({
      filename: workerFile(import.meta.url, 'reader-thread').href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
    });
  }

  /** The answer as JSON text, or null when the ledger has nothing there. Rejects on a corrupt store. */
  read(task: Exclude<LedgerReadTask, { kind: 'export' }>): Promise<string | null> {
    return this.pool.run(task) as Promise<string | null>;
  }

  /** A page of a chain's blocks for another gateway (msgpack: `{blocks: ExportedBlock[], next}`). */
  export(task: Extract<LedgerReadTask, { kind: 'export' }>): Promise<Uint8Array> {
    return this.pool.run(task) as Promise<Uint8Array>;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
