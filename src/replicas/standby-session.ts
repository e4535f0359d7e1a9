// The standby's end of one shipping stream (docs/replicas.md part 3): it says
// where it stands (`hello`), then stores the owner's seals in order through
// its SealSink (the ledger's `replicateSeals`, which checks each seal and
// makes it durable), answering `durable n` after each store returns. Seals
// that arrive while one store runs are stored together next, as one batch
// (one transaction, one flush: 1.09–1.13× the entries/s of one by one,
// measured on a standby store alone, docs/replicas.md part 3). The
// owner may have at most MAX_SEALS_IN_FLIGHT seals unacknowledged, so the
// queue here never holds more: a ninth is a hostile or broken owner and the
// stream ends with `too_many_seals`. Likewise for bytes: the seals queued
// here (sent, not acknowledged) may weigh `maxQueuedBytes` together, which
// the owner's shipper keeps to — so a standby holds at most that per owner,
// whatever the owner sends. A refused seal ends it with `refused`
// (nothing of that seal is stored: the sink's check throws before it writes).
import { decodeDirectoryHeader, directoryRecordHeader, RecordFormatError, ReplicaError } from '../ledger/index.js';
import { MAX_SEALS_IN_FLIGHT, ReplicaStreamError, decodeMessage, encodeMessage, type ReplicaErrorCode, type SealMessage } from './messages.js';

/** Where the standby keeps an owner's seals (the ledger's half: Ledger.replicate / replicaPosition). */
export interface SealSink {
  /** The highest seal of `owner` durable here; -1 for none. */
  position(owner: string): number | Promise<number>;
  /**
   * Checks `seals` in order against what is held and makes them durable together; resolves with the height now held
   * and, when a seal after the first does not continue the owner's chain, its ReplicaError (the seals before it are
   * held). Rejects with a ReplicaError when the first does not, or with an Error when the store failed. May hold
   * fewer than all of them (a prefix), and say so by the height: the rest are offered again.
   */
  replicate(owner: string, seals: SealMessage[]): Promise<{ acked: number; refused?: ReplicaError }>;
}

/** The socket as the session uses it: binary sends and a close with a reason. */
export interface SessionSocket {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

export interface StandbySessionOptions {
  owner: string;
  /** The standby's store identity (its `hello` names it). */
  store: string;
  sink: SealSink;
  socket: SessionSocket;
  /** The previous stream of this owner, whose last seal may still be going to the store: the hello waits for it. */
  after?: Promise<void>;
  /** Blocks per seal, at most (a message listing more is refused before anything else is read). */
  maxBlocks: number;
  /** Bytes of seal messages queued (received, not yet acknowledged), at most: the owner's `maxInFlightBytes`. */
  maxQueuedBytes: number;
  /** Told of each seal made durable and of the end (for the standby's health and logs). */
  onDurable?(height: number): void;
  onEnd?(code: ReplicaErrorCode | null, message: string): void;
}

/** WebSocket close codes of the stream: 1000 when the owner closes, 4400 for a refused message, 4500 when the standby fails. */
export const CLOSE_REFUSED = 4400;
export const CLOSE_FAILED = 4500;

export class StandbySession {
  private readonly queue: { seal: SealMessage; bytes: number }[] = [];
  private queuedBytes = 0;
  private storing: Promise<void> | null = null;
  private ended = false;
  /** The last seal acknowledged, and the one expected next (seals come in order). */
  private next = -1;

  constructor(private readonly options: StandbySessionOptions) {}

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Resolves once no seal of this session is being stored (a new stream's hello waits for it, or it would say too little). */
  idle(): Promise<void> {
    return this.storing ?? Promise.resolve();
  }

  /** Says where the standby stands (once the previous stream's last seal is stored); the owner starts shipping from the seal after it. */
  async hello(): Promise<void> {
    const { owner, store, sink } = this.options;
    await this.options.after;
    let acked: number;
    try {
      acked = await sink.position(owner);
    } catch (error) {
      return this.fail('store_failed', `cannot read where this standby has gateway "${owner}": ${message(error)}`);
    }
    if (this.ended) return;
    this.next = acked + 1;
    this.options.socket.send(encodeMessage({ type: 'hello', owner, acked, store }));
  }

  /** A message from the owner. */
  message(bytes: Uint8Array): void {
    if (this.ended) return;
    try {
      const m = decodeMessage(bytes, this.options.maxBlocks);
      if (m.type === 'error') return this.end(null, `the owner ended the stream: ${m.code}: ${m.message}`);
      if (m.type !== 'seal') throw new ReplicaStreamError('bad_message', `an owner sends seals and errors, not ${m.type}`);
      if (this.next < 0) throw new ReplicaStreamError('out_of_step', 'a seal before this standby said hello');
      if (this.queue.length >= MAX_SEALS_IN_FLIGHT)
        throw new ReplicaStreamError('too_many_seals', `more than ${MAX_SEALS_IN_FLIGHT} seals sent without waiting for their acknowledgement`);
      if (this.queue.length > 0 && this.queuedBytes + bytes.byteLength > this.options.maxQueuedBytes)
        throw new ReplicaStreamError(
          'too_many_seals',
          `${this.queuedBytes + bytes.byteLength} bytes of seals sent without waiting for their acknowledgement (at most ${this.options.maxQueuedBytes})`,
        );
      this.queue.push({ seal: m, bytes: bytes.byteLength });
      this.queuedBytes += bytes.byteLength;
      this.storing ??= this.store().finally(() => {
        this.storing = null;
      });
    } catch (error) {
      if (error instanceof ReplicaStreamError) return this.fail(error.code, error.message);
      throw error;
    }
  }

  /** The socket closed: nothing more is sent (a seal being stored finishes; the next stream's hello says so). */
  closed(): void {
    this.end(null, 'the stream closed');
  }

  private async store(): Promise<void> {
    while (!this.ended && this.queue.length > 0) {
      const batch = this.nextBatch();
      if (batch === null) return;
      let stored: { acked: number; refused?: ReplicaError };
      try {
        stored = await this.options.sink.replicate(this.options.owner, batch);
      } catch (error) {
        if (error instanceof ReplicaError) return this.fail('refused', error.message);
        return this.fail('store_failed', `seal ${this.next} of gateway "${this.options.owner}" could not be stored: ${message(error)}`);
      }
      if (this.ended) return;
      // A sink that held none of them would be offered the same batch again, and again.
      if (stored.acked < this.next) return this.fail('store_failed', `the store held none of the seals from ${this.next} of gateway "${this.options.owner}"`);
      this.held(stored.acked);
      if (stored.refused !== undefined) return this.fail('refused', stored.refused.message);
    }
  }

  /** The queued seals that follow one another from the next expected height (a prefix of the queue); null once the stream failed on one. */
  private nextBatch(): SealMessage[] | null {
    const batch: SealMessage[] = [];
    for (const { seal } of this.queue) {
      let height: number;
      try {
        height = decodeDirectoryHeader(directoryRecordHeader(seal.directory)).height;
      } catch (error) {
        if (!(error instanceof RecordFormatError)) throw error;
        if (batch.length > 0) break; // stored first, then refused
        this.fail('refused', `seal: ${error.message}`);
        return null;
      }
      const expected = this.next + batch.length;
      if (height === expected) batch.push(seal);
      else if (batch.length > 0) break;
      else {
        this.fail('out_of_step', `seal ${height} came where seal ${expected} was expected`);
        return null;
      }
    }
    return batch;
  }

  /** Seals up to `acked` are durable here: out of the queue, and `durable` told. */
  private held(acked: number): void {
    while (this.next <= acked && this.queue.length > 0) {
      const { bytes } = this.queue.shift()!;
      this.queuedBytes -= bytes;
      this.next++;
    }
    this.next = acked + 1;
    this.options.onDurable?.(acked);
    this.options.socket.send(encodeMessage({ type: 'durable', directory: acked }));
  }

  private fail(code: ReplicaErrorCode, text: string): void {
    if (this.ended) return;
    this.options.socket.send(encodeMessage({ type: 'error', code, message: text }));
    this.options.socket.close(code === 'store_failed' ? CLOSE_FAILED : CLOSE_REFUSED, code);
    this.end(code, text);
  }

  private end(code: ReplicaErrorCode | null, text: string): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.options.onEnd?.(code, text);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
