// One frame at a time to one gateway of a fleet, every reply kept with its
// time and the gateway that gave it: what the split-brain and partition
// tests write with, and how they check each store at the end.
import { expect } from 'vitest';
import { runCli, StreamClient, type Reply } from './gateway.js';
import type { FleetGateway } from './fleet.js';

export type WrittenReply = Reply & { gateway: string; at: number };

export class FleetWriter {
  readonly replies: WrittenReply[] = [];
  private constructor(
    readonly gateway: string,
    readonly stream: StreamClient,
  ) {}

  static async open(gw: FleetGateway, chain: string, key?: string): Promise<FleetWriter> {
    return new FleetWriter(gw.id, await StreamClient.open(gw.url, chain, key));
  }

  /** Sends one frame and waits for its reply; null once the connection is closed. */
  async write(entry: string): Promise<WrittenReply | null> {
    if (this.stream.closeCode !== null) return null;
    const n = this.stream.replies.length;
    this.stream.send([entry]);
    try {
      await this.stream.waitReplies(n + 1, 10_000);
    } catch {
      return null;
    }
    const reply = { ...this.stream.replies[n]!, gateway: this.gateway, at: Date.now() };
    this.replies.push(reply);
    return reply;
  }

  /** Writes until `done` says so (or the connection ends), one frame at a time; `busy` is tried again a moment later. */
  async writeUntil(label: string, done: () => boolean): Promise<void> {
    for (let i = 0; !done(); i++) {
      const reply = await this.write(`${label} ${i}`);
      if (reply === null) return;
      if (reply.type === 'error') await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  accepted(): WrittenReply[] {
    return this.replies.filter((r) => r.type === 'accepted');
  }

  /** The last seq a `committed` covered (-1: none). */
  committedUpTo(): number {
    return Math.max(-1, ...this.stream.committed.map((c) => (c.seq as number) + (c.count as number) - 1));
  }
}

/** Each gateway stopped, then its store checked by `chainlanes verify --data`. */
export async function expectStoresVerify(gateways: FleetGateway[]): Promise<void> {
  for (const gw of gateways) {
    await gw.stop();
    const verified = runCli(['verify', '--data', gw.dataDir]);
    expect(verified.status, `${gw.id}: ${verified.output}`).toBe(0);
  }
}
