// The fixed workload of `--cost` (bench/cost.ts): the --compare load's chains
// and connections, but a fixed number of frames per connection instead of a
// time, so the gateway does the same work whatever the machine's speed. Every
// frame is sent until it is accepted (a `busy` is sent again after a pause),
// and the run ends when every chain's last entry is committed.
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import type { Plan } from './plan.js';

/** One connection of the workload: `frames` frames of `batch` entries, at most `window` in flight. */
export interface CostConnection {
  chain: string;
  frames: number;
  window: number;
}

export interface CostWorkload {
  connections: CostConnection[];
  batch: number;
  entrySize: number;
}

/**
 * How many frames a light chain sends beside a heavy connection's `heavyFrames`:
 * its --compare rate for the time a heavy connection takes to send them at
 * the compare load's ~1,500 frames/s (1 M entries/s over 10 connections of 64
 * entries), so the light chains carry about the share of entries they carry in
 * --compare (~8 %). At least one frame each.
 */
const HEAVY_FRAMES_PER_SEC = 1500;

/** The --compare plan as a fixed workload: each heavy connection sends `heavyFrames`, window `inflight`; light chains one frame at a time. */
export function costWorkload(plan: Plan, heavyFrames: number, batch: number, entrySize: number, inflight: number): CostWorkload {
  const connections: CostConnection[] = [];
  for (const chain of plan.chains) {
    if (chain.cls === 'heavy') {
      for (let k = 0; k < chain.connections; k++) connections.push({ chain: chain.name, frames: heavyFrames, window: inflight });
    } else {
      const frames = Math.max(1, Math.round(((chain.rateFps ?? 0) * heavyFrames) / HEAVY_FRAMES_PER_SEC));
      connections.push({ chain: chain.name, frames, window: 1 });
    }
  }
  return { connections, batch, entrySize };
}

export function workloadEntries(w: CostWorkload): number {
  return w.connections.reduce((n, c) => n + c.frames, 0) * w.batch;
}

export interface WorkloadRun {
  entries: number;
  frames: number;
  /** Frames refused `busy` and sent again. */
  busy: number;
  /** From the first send to the last chain's commit. */
  elapsedMs: number;
}

/** Frames sent in turn per connection: varied content, encoded once. */
const FRAME_POOL = 8;
/** After a `busy`, the frame is sent again this much later. */
const BUSY_PAUSE_MS = 2;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Deterministic bytes (xorshift32), so every run hashes and stores the same entries. */
function fill(bytes: Uint8Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}

function framePool(batch: number, entrySize: number, seed: number): Buffer[] {
  return Array.from({ length: FRAME_POOL }, (_, f) => {
    const content = Buffer.allocUnsafe(batch * entrySize);
    fill(content, seed * FRAME_POOL + f + 1);
    return packr.pack(Array.from({ length: batch }, (_, i) => content.subarray(i * entrySize, (i + 1) * entrySize)));
  });
}

type Reply = { type?: unknown; seq?: unknown; count?: unknown; code?: unknown; message?: unknown };

/** Each chain's highest seq end accepted and committed, shared by its connections. */
class ChainEnds {
  readonly accepted = new Map<string, number>();
  readonly committed = new Map<string, number>();

  note(map: Map<string, number>, chain: string, end: number): void {
    if (end > (map.get(chain) ?? 0)) map.set(chain, end);
  }

  allCommitted(): boolean {
    for (const [chain, end] of this.accepted) if ((this.committed.get(chain) ?? 0) < end) return false;
    return true;
  }
}

class CostConnectionRun {
  private readonly ws: WebSocket;
  private readonly pool: Buffer[];
  private sent = 0;
  private inFlight = 0;
  private resend = 0;
  accepted = 0;
  busy = 0;
  private closing = false;

  constructor(
    private readonly spec: CostConnection,
    url: string,
    batch: number,
    entrySize: number,
    seed: number,
    private readonly ends: ChainEnds,
    private readonly onProgress: () => void,
    private readonly onFail: (why: string) => void,
    key?: string,
  ) {
    this.pool = framePool(batch, entrySize, seed);
    const headers = key === undefined ? undefined : { authorization: `Bearer ${key}` };
    this.ws = new WebSocket(`${url}/v1/chains/${encodeURIComponent(spec.chain)}/stream`, { perMessageDeflate: false, headers });
    this.ws.on('message', (data: Buffer) => this.onReply(data));
    this.ws.on('close', () => {
      if (!this.closing) onFail(`${spec.chain}: connection closed by the gateway after ${this.accepted} of ${spec.frames} frames accepted`);
    });
    this.ws.on('error', () => undefined);
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`${this.spec.chain}: HTTP ${res.statusCode}`)));
    });
  }

  get done(): boolean {
    return this.accepted === this.spec.frames;
  }

  pump(): void {
    while (this.inFlight < this.spec.window && (this.resend > 0 || this.sent < this.spec.frames)) {
      if (this.resend > 0) this.resend--;
      else this.sent++;
      this.inFlight++;
      this.ws.send(this.pool[this.sent % FRAME_POOL]!, { binary: true });
    }
  }

  close(): void {
    this.closing = true;
    this.ws.terminate();
  }

  private onReply(data: Buffer): void {
    const reply = unpackr.unpack(data) as Reply;
    if (reply.type === 'committed') {
      this.ends.note(this.ends.committed, this.spec.chain, Number(reply.seq) + Number(reply.count));
      return this.onProgress();
    }
    this.inFlight--;
    if (reply.type === 'accepted') {
      this.accepted++;
      this.ends.note(this.ends.accepted, this.spec.chain, Number(reply.seq) + Number(reply.count));
      this.pump();
    } else if (reply.type === 'error' && reply.code === 'busy') {
      this.busy++;
      this.resend++;
      setTimeout(() => this.pump(), BUSY_PAUSE_MS);
    } else {
      this.onFail(`${this.spec.chain}: ${String(reply.type)} ${String(reply.code)} ${String(reply.message)}`);
    }
    this.onProgress();
  }
}

/**
 * The workload against `url`, in two steps: `accepted` resolves once every
 * frame is accepted, `committed` once every chain's last entry is committed
 * (after the gateway's next cut: its block interval, or its shutdown). Either
 * rejects on any error but `busy`, or after `timeoutMs`.
 */
export class WorkloadDrive {
  readonly accepted: Promise<WorkloadRun>;
  readonly committed: Promise<void>;
  private readonly runs: CostConnectionRun[] = [];
  private readonly ends = new ChainEnds();
  private readonly timer: NodeJS.Timeout;
  private allAccepted: (() => void) | undefined;
  private allCommitted: (() => void) | undefined;
  private failed: ((error: Error) => void)[] = [];

  constructor(
    url: string,
    private readonly w: CostWorkload,
    keys: Record<string, string>,
    timeoutMs: number,
  ) {
    const failure = new Promise<never>((_, reject) => this.failed.push(reject));
    failure.catch(() => undefined);
    const accepted = new Promise<void>((resolve) => {
      this.allAccepted = resolve;
    });
    const committed = new Promise<void>((resolve) => {
      this.allCommitted = resolve;
    });
    this.timer = setTimeout(() => this.fail(`the workload took longer than ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    w.connections.forEach((spec, i) =>
      this.runs.push(
        new CostConnectionRun(
          spec,
          url,
          w.batch,
          w.entrySize,
          i + 1,
          this.ends,
          () => this.progress(),
          (why) => this.fail(why),
          keys[spec.chain],
        ),
      ),
    );
    this.accepted = Promise.race([this.start(accepted), failure]);
    this.committed = Promise.race([committed, failure]).finally(() => this.close());
    this.committed.catch(() => undefined);
  }

  /** Closes every connection (done by itself once all is committed). */
  close(): void {
    clearTimeout(this.timer);
    this.runs.forEach((r) => r.close());
  }

  private async start(accepted: Promise<void>): Promise<WorkloadRun> {
    await Promise.all(this.runs.map((r) => r.opened()));
    const started = Date.now();
    this.runs.forEach((r) => r.pump());
    await accepted;
    return {
      entries: workloadEntries(this.w),
      frames: this.w.connections.reduce((n, c) => n + c.frames, 0),
      busy: this.runs.reduce((n, r) => n + r.busy, 0),
      elapsedMs: Date.now() - started,
    };
  }

  private progress(): void {
    if (!this.runs.every((r) => r.done)) return;
    this.allAccepted?.();
    if (this.ends.allCommitted()) this.allCommitted?.();
  }

  private fail(why: string): void {
    const error = new Error(why);
    for (const reject of this.failed) reject(error);
  }
}
