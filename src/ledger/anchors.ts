// Directory hashes are what get anchored outside. The store itself is always the
// first sink (the anchor record is written inside the seal transaction and read
// back with Ledger.anchors()); further sinks run after the seal is durable.
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AnchorRecord {
  height: number;
  /** The directory hash, SHA-256 of its 84-byte header. */
  hash: Buffer;
  sealedAt: number;
}

/**
 * Somewhere directory hashes go. Resolve once the record is as durable as the sink
 * can make it; reject to report a failure (the seal itself is never undone). A sink
 * that fell behind can catch up from Ledger.anchors(fromHeight, limit).
 */
export interface AnchorSink {
  readonly name: string;
  anchor(record: AnchorRecord): Promise<void>;
}

export type AnchorErrorHandler = (error: unknown, record: AnchorRecord, sink: AnchorSink) => void;

/** The JSON line FileAnchorSink writes, also the shape of Ledger.anchors() items. */
export function anchorJson(record: AnchorRecord): { height: number; hash: string; sealedAt: number } {
  return { height: record.height, hash: record.hash.toString('hex'), sealedAt: record.sealedAt };
}

/** Appends `{"height":…,"hash":"hex","sealedAt":…}\n` per directory block and fsyncs it. */
export class FileAnchorSink implements AnchorSink {
  readonly name: string;
  private parentSynced = false;

  constructor(readonly path: string) {
    this.name = `file:${path}`;
  }

  async anchor(record: AnchorRecord): Promise<void> {
    const file = await open(this.path, 'a');
    try {
      await file.appendFile(JSON.stringify(anchorJson(record)) + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await this.syncParentOnce();
  }

  // A freshly created file is only durable once its directory entry is.
  private async syncParentOnce(): Promise<void> {
    if (this.parentSynced) return;
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.parentSynced = true;
  }
}

/** Delivers records to sinks one at a time, in height order, off the seal's path. */
export class AnchorQueue {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly sinks: readonly AnchorSink[],
    private readonly onError: AnchorErrorHandler,
  ) {}

  push(record: AnchorRecord): void {
    if (this.sinks.length === 0) return;
    this.tail = this.tail.then(() => this.deliver(record));
  }

  settled(): Promise<void> {
    return this.tail;
  }

  private async deliver(record: AnchorRecord): Promise<void> {
    for (const sink of this.sinks) {
      try {
        await sink.anchor(record);
      } catch (error) {
        this.report(error, record, sink);
      }
    }
  }

  private report(error: unknown, record: AnchorRecord, sink: AnchorSink): void {
    try {
      this.onError(error, record, sink);
    } catch {
      // A throwing handler must not wedge the queue for later heights.
    }
  }
}

export const logAnchorError: AnchorErrorHandler = (error, record, sink) => {
  const why = error instanceof Error ? error.message : String(error);
  process.stderr.write(`chainlanes ledger: anchor sink ${sink.name} failed for directory ${record.height}: ${why}\n`);
};
