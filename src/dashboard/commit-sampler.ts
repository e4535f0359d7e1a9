// Commit latency, sampled: from a frame's admission to the seal of the block
// that holds it. The dashboard's charts take its quantiles each tick; the chain
// view takes each chain's mean from the running totals.
import type { CommitProbe } from '../frontdoor/index.js';
import { DASHBOARD } from './bounds.js';

/**
 * Samples commit latency at the cost of two typed-array cells per chain: while
 * a chain has a frame being timed, its later frames are not, so a frame is
 * timed per chain per block or so, whatever the rate. Written by admission and
 * by the sealer's events, both on the front door's thread.
 */
export class CommitSampler implements CommitProbe {
  /**
   * Per chain slot, over the gateway's life: the timed frames' latencies added
   * up (ms) and counted. Written once per timed frame's block (committed()), never
   * per frame; the chain view takes differences between its points.
   */
  readonly chainLatencySumMs: Float64Array;
  readonly chainLatencyCount: Float64Array;
  /** Per chain slot: the seq the timed frame ends before (0: none timed), and when it was admitted. */
  private readonly endSeq: Float64Array;
  private readonly since: Float64Array;
  private latenciesMs: number[] = [];

  constructor(maxChains: number) {
    this.endSeq = new Float64Array(maxChains);
    this.since = new Float64Array(maxChains);
    this.chainLatencySumMs = new Float64Array(maxChains);
    this.chainLatencyCount = new Float64Array(maxChains);
  }

  admitted(slot: number, endSeq: number, at: number): void {
    if (this.endSeq[slot] !== 0) return;
    this.endSeq[slot] = endSeq;
    this.since[slot] = at;
  }

  /** A block of chain `slot` up to `endSeq` is durable, now (performance.now()). */
  committed(slot: number, endSeq: number, now: number): void {
    const timed = this.endSeq[slot]!;
    if (timed === 0 || endSeq < timed) return;
    this.endSeq[slot] = 0;
    const latencyMs = now - this.since[slot]!;
    this.chainLatencySumMs[slot]! += latencyMs;
    this.chainLatencyCount[slot]!++;
    if (this.latenciesMs.length < DASHBOARD.maxCommitSamplesPerTick) this.latenciesMs.push(latencyMs);
  }

  /** The latencies since the last call. */
  take(): number[] {
    const taken = this.latenciesMs;
    this.latenciesMs = [];
    return taken;
  }
}
