// A flood of the client package with frame ids (README "Clients", "Exactly
// once") and the tally of what its application saw: every accepted frame is
// kept until `committed` covers it, sent again on each new connection, and
// its commit reported once (`frameCommitted`), whatever the connection did.
// Shared by the client's tests against one gateway and the replica tests'
// kills through HAProxy.
import { expect } from 'vitest';
import type { ChainClient, ChainError, FrameCommitted } from '../../src/client/index.js';
import { sha256Hex } from '../helpers/index.js';

export const PER_FRAME = 3;

/** Every seq from 0 to `total` exactly once over the results. */
export function expectTiled(results: readonly { seq: number; count: number }[], total: number): void {
  const seqs = results.flatMap((r) => Array.from({ length: r.count }, (_, i) => r.seq + i)).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i));
}

/** A flood of the client package: frame i holds PER_FRAME entries named after i; what the application saw of each. */
export class Flood {
  readonly submitted: string[][] = [];
  /** frameCommitted reports, by frame id: exactly one each is the promise. */
  readonly reports = new Map<number, FrameCommitted[]>();
  readonly idOf = new Map<number, number>();
  private readonly waiting: Promise<void>[] = [];

  constructor(private readonly client: ChainClient) {
    client.on('frameCommitted', (frame) => {
      const seen = this.reports.get(frame.id) ?? [];
      seen.push(frame);
      this.reports.set(frame.id, seen);
    });
  }

  /** Submits `frames` frames at once; a `busy` submit (the client's bound) is submitted again shortly. */
  send(frames: number): void {
    for (let k = 0; k < frames; k++) {
      const i = this.submitted.length;
      const entries = Array.from({ length: PER_FRAME }, (_, e) => `flood-${i}-entry-${e}`);
      this.submitted.push(entries);
      this.waiting.push(this.submitUntilTaken(i, entries));
    }
  }

  private async submitUntilTaken(i: number, entries: string[]): Promise<void> {
    for (;;) {
      try {
        this.idOf.set(i, (await this.client.submit(entries)).id!);
        return;
      } catch (err) {
        if ((err as ChainError).code !== 'busy') throw err;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Every submit so far resolved (accepted). */
  async accepted(): Promise<void> {
    await Promise.all(this.waiting);
  }

  /** Every submit resolved, and every frame reported committed. */
  async settled(timeoutMs = 30_000): Promise<void> {
    await this.accepted();
    await expect.poll(() => this.reports.size, { timeout: timeoutMs }).toBe(this.submitted.length);
  }

  /** Each frame reported once, at seqs that tile the chain from 0, with the hashes of its own entries. */
  expectExactlyOnce(): FrameCommitted[] {
    const reports = [...this.reports.values()];
    expect(reports.filter((r) => r.length !== 1)).toEqual([]);
    const frames = reports.map((r) => r[0]!);
    expectTiled(frames, this.submitted.length * PER_FRAME);
    for (const [i, entries] of this.submitted.entries()) {
      const frame = this.reports.get(this.idOf.get(i)!)![0]!;
      expect(frame.hashes.map(hex)).toEqual(entries.map((e) => sha256Hex(Buffer.from(e))));
    }
    return frames;
  }
}

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The chain's entry hashes by seq, read back block by block through the HTTP API at `base` (http://host:port). */
export async function storedHashes(base: string, chain: string, total: number): Promise<string[]> {
  const hashes: string[] = [];
  for (let height = 0; hashes.length < total; height++) {
    const res = await fetch(`${base}/v1/chains/${chain}/blocks/${height}`);
    expect(res.status, `block ${height}`).toBe(200);
    const block = (await res.json()) as { firstSeq: number; entryHashes: string[] };
    expect(block.firstSeq).toBe(hashes.length);
    hashes.push(...block.entryHashes);
  }
  expect(hashes.length).toBe(total);
  return hashes;
}

/** The store at `base` holds exactly the frames reported, each once, where they were reported. */
export async function expectStored(base: string, chain: string, frames: readonly FrameCommitted[], total: number): Promise<void> {
  const info = (await (await fetch(`${base}/v1/chains/${chain}`)).json()) as { nextSeq: number };
  expect(info.nextSeq).toBe(total);
  const stored = await storedHashes(base, chain, total);
  for (const frame of frames) expect(stored.slice(frame.seq, frame.seq + frame.count)).toEqual(frame.hashes.map(hex));
  expect(new Set(stored).size).toBe(total); // every entry is distinct: none written twice
}
