// The front door's handle on the ledger reader threads.
import { Piscina } from 'piscina';
import { workerFile } from '../paths.js';
import type { BinaryReadTask, LedgerReadTask, LedgerReaderData } from './reader-messages.js';
import type { ShippedSeal } from './replica.js';
import { asSuperseded } from './truncation.js';

/** A seal read for shipping: null when `height` is not sealed (yet), and the highest height sealed (−1 before the first). */
export interface ShippedSealAnswer {
  seal: ShippedSeal | null;
  sealedHeight: number;
}

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

  /**
   * The answer as JSON text, or null when the ledger has nothing there.
   * Rejects with a SupersededError for an entry or block a truncation removed,
   * and on a corrupt store.
   */
  read(task: Exclude<LedgerReadTask, BinaryReadTask>): Promise<string | null> {
    return (this.pool.run(task) as Promise<string | null>).catch((error: unknown) => {
      throw asSuperseded(error);
    });
  }

  /** A page of a chain's blocks for another gateway (msgpack: `{blocks: ExportedBlock[], next}`). */
  export(task: Extract<LedgerReadTask, { kind: 'export' }>): Promise<Uint8Array> {
    return this.pool.run(task) as Promise<Uint8Array>;
  }

  /**
   * The owner's side of shipping: seal `height` as its store holds it (one
   * seal per request, read on a reader thread, copied out), and how far the
   * store is sealed, so a shipper knows where the owner is.
   */
  async seal(height: number): Promise<ShippedSealAnswer> {
    const task: BinaryReadTask = { kind: 'seal', height };
    return (await this.pool.run(task)) as ShippedSealAnswer;
  }

  /** Entry hashes of seqs `seq` … `seq + count − 1` of `chain` as sealed (count × 32 bytes), null when not all sealed. */
  async hashes(chain: string, seq: number, count: number): Promise<Uint8Array | null> {
    const task: BinaryReadTask = { kind: 'hashes', chain, seq, count };
    return (await this.pool.run(task)) as Uint8Array | null;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
