// One load-client process: opens its share of the connections, sends frames on
// the parent's schedule, and records what it measures into histograms. It runs
// in its own process so its CPU time is its own (process.cpuUsage) and its
// event loop is not shared with the parent or other clients.
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Histogram } from 'hdr-histogram-js';
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import type { ClassCounts, DoneMessage, FromWorker, GoMessage, InitMessage, IntervalMessage, ToWorker, WorkerResult } from './load-protocol.js';
import type { ChainClass, ConnSpec } from './plan.js';
import { encodeHistogram, newHistogram } from './stats.js';
import { epochNow, localTime } from './clock.js';

/** Distinct frames per connection, sent in turn: varied content without encoding on the hot path. */
const FRAME_POOL = 8;
/**
 * How long a full-speed connection waits after a `busy` reply before filling
 * its window again: 1 ms, doubling with every `busy` in a row up to 64 ms, and
 * back to 1 ms after an `accepted`. `busy` means "retry later"; a client that
 * answers each one at once with a full window only makes the gateway read and
 * refuse frames it has no room for (measured: ~30,000 refused frames a second).
 */
const BUSY_PAUSE_MS = 1;
const BUSY_PAUSE_MAX_MS = 64;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * The client must mask frames, but the mask's value is its own business: an
 * all-zero mask lets `ws` skip the XOR pass on our side, saving client CPU.
 * On the server side `ws` also skips unmasking a zero mask while uWS unmasks
 * regardless, so if anything this favours the ws-gateway peer, never chainlanes.
 */
const zeroMask = (mask: Buffer): void => {
  mask.fill(0);
};

class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

interface Sent {
  at: number;
  count: number;
  measured: boolean;
}

interface Uncommitted {
  at: number;
  count: number;
  end: number; // seq after the frame's last entry
  remaining: number;
  measured: boolean;
}

type Reply = { type?: unknown; frame?: unknown; seq?: unknown; count?: unknown; code?: unknown };

const emptyCounts = (): ClassCounts => ({ framesSent: 0, framesAccepted: 0, entriesAccepted: 0, framesCommitted: 0, entriesCommitted: 0 });

/** How long after the window a target that has not committed yet is waited for (a gateway seals every 500 ms by default). */
const FIRST_COMMIT_GRACE_MS = 3_000;

/** Everything this process measures; connections record into it. */
class Recorder {
  readonly accepted: Record<ChainClass, Histogram> = { heavy: newHistogram(), light: newHistogram() };
  readonly committed: Record<ChainClass, Histogram> = { heavy: newHistogram(), light: newHistogram() };
  readonly counts: Record<ChainClass, ClassCounts> = { heavy: emptyCounts(), light: emptyCounts() };
  readonly errors: Record<string, number> = {};
  readonly interval: Record<ChainClass, Histogram> = { heavy: newHistogram(), light: newHistogram() };
  /** By chain, measured window only (the floods' split and each light chain's own p99). */
  readonly chains = new Map<string, { accepted: Histogram; entries: number }>();
  intervalEntries = 0;
  committedSeen = false;
  /** Every entry accepted, warm-up and drain included: what must become durable. */
  readonly entriesAcceptedTotal: Record<ChainClass, number> = { heavy: 0, light: 0 };
  /** Every accepted entry a committed notice covered, warm-up and drain included. */
  readonly entriesCommittedTotal: Record<ChainClass, number> = { heavy: 0, light: 0 };
  connectionsLost = 0;
  /** Connections the target closed, by "class code reason". */
  readonly lostBecause: Record<string, number> = {};
  skipped = 0;
  lateSends = 0;
  maxLateMs = 0;
  measureFrom = 0;
  measureUntil = 0;

  error(code: string, measured: boolean): void {
    if (measured) this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  late(ms: number): void {
    // Timers fire up to a few ms late even on an idle machine; beyond 5 ms the client (or the box) is busy.
    if (ms > 5) this.lateSends++;
    if (ms > this.maxLateMs) this.maxLateMs = ms;
  }

  inWindow(t: number): boolean {
    return t >= this.measureFrom && t < this.measureUntil;
  }
}

function makeFrames(batch: number, entrySize: number): Buffer[] {
  return Array.from({ length: FRAME_POOL }, () => {
    const content = randomFillSync(Buffer.allocUnsafe(batch * entrySize));
    const entries = Array.from({ length: batch }, (_, i) => content.subarray(i * entrySize, (i + 1) * entrySize));
    return packr.pack(entries);
  });
}

class LoadConnection {
  private readonly ws: WebSocket;
  private readonly frames: Buffer[];
  private readonly sent = new Fifo<Sent>();
  private readonly toCommit = new Fifo<Uncommitted>();
  private nextFrame = 0;
  private pool = 0;
  private sending = false;
  private open = false;
  private dueAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** `busy` replies in a row, for the back-off. */
  private busyStreak = 0;
  /** Set when this client closes the connection, so a close by the target can be told apart. */
  private closedHere = false;

  constructor(
    private readonly spec: ConnSpec,
    url: string,
    entrySize: number,
    private readonly rec: Recorder,
    key?: string,
  ) {
    this.frames = makeFrames(spec.batch, entrySize);
    const target = `${url}/v1/chains/${encodeURIComponent(spec.chain)}/stream`;
    const headers = key === undefined ? undefined : { authorization: `Bearer ${key}` };
    this.ws = new WebSocket(target, { perMessageDeflate: false, generateMask: zeroMask, skipUTF8Validation: true, headers });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => this.onReply(data, isBinary));
    this.ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason.toString('utf8')));
    this.ws.on('error', () => undefined); // 'close' follows and accounts for the frames in flight
  }

  /** Resolves with undefined once open, or a line saying why it could not open. */
  opened(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.ws.once('open', () => {
        this.open = true;
        resolve(undefined);
      });
      this.ws.once('unexpected-response', (_req, res) => {
        resolve(`${this.spec.chain}: HTTP ${res.statusCode}`);
        this.ws.terminate();
      });
      this.ws.once('close', () => resolve(`${this.spec.chain}: closed before it opened`));
    });
  }

  /** `phase` spreads paced connections over one period so they do not all send at once. */
  start(phase: number): void {
    if (!this.open) return;
    this.sending = true;
    const rate = this.spec.rateFps;
    if (rate === undefined) return this.pump();
    this.dueAt = performance.now() + phase * (1000 / rate);
    this.tick(rate);
  }

  stop(): void {
    this.sending = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Replies or (from a gateway that commits) commits this connection still waits for. */
  waiting(): boolean {
    if (!this.open) return false;
    if (this.sent.length > 0) return true;
    // Nothing is sent after the window, so whatever still waits for a commit is warm-up or measured.
    // Until a first commit is seen the target may simply not have sealed yet (a short run on a busy
    // machine), so it gets a grace period before it is taken for one that never commits.
    if (this.toCommit.length === 0) return false;
    return this.rec.committedSeen || performance.now() < this.rec.measureUntil + FIRST_COMMIT_GRACE_MS;
  }

  close(): void {
    this.closedHere = true;
    this.stop();
    this.ws.terminate();
  }

  uncommitted(): number {
    return this.toCommit
      .drain()
      .filter((u) => u.measured)
      .reduce((n, u) => n + u.remaining, 0);
  }

  private send(): void {
    const frame = this.frames[this.pool++ % this.frames.length];
    if (frame === undefined) return;
    const at = performance.now();
    const measured = this.rec.inWindow(at);
    this.sent.push({ at, count: this.spec.batch, measured });
    if (measured) this.rec.counts[this.spec.cls].framesSent++;
    this.ws.send(frame, { binary: true });
  }

  /** Full speed: keep `window` frames in flight. */
  private pump(): void {
    while (this.sending && this.sent.length < this.spec.window) this.send();
  }

  /** Fixed schedule: send every frame that is due, late or not (open loop). */
  private tick(rate: number): void {
    const now = performance.now();
    const period = 1000 / rate;
    while (this.sending && this.dueAt <= now) {
      if (this.sent.length < this.spec.window) {
        if (this.rec.inWindow(now)) this.rec.late(now - this.dueAt);
        this.send();
      } else if (this.rec.inWindow(now)) {
        this.rec.skipped++;
      }
      this.dueAt += period;
    }
    if (this.sending) this.timer = setTimeout(() => this.tick(rate), Math.max(0, this.dueAt - performance.now()));
  }

  private onReply(data: Buffer, isBinary: boolean): void {
    const now = performance.now();
    let reply: Reply;
    try {
      reply = isBinary ? (unpackr.unpack(data) as Reply) : {};
    } catch {
      reply = {};
    }
    if (reply.type === 'committed') return this.onCommitted(reply, now);
    if (reply.type === 'error' && reply.frame === null) return this.rec.error(String(reply.code), true);
    const sent = this.sent.shift();
    if (sent === undefined || reply.frame !== this.nextFrame++) {
      this.rec.error('protocol', true);
      return this.close();
    }
    if (reply.type === 'accepted') this.onAccepted(reply, sent, now);
    else this.rec.error(reply.type === 'error' ? String(reply.code) : 'protocol', sent.measured);
    if (this.spec.rateFps !== undefined) return;
    // `busy` means "retry later": a polite client pauses instead of answering each rejection with a new frame.
    if (reply.type === 'error' && reply.code === 'busy') this.pauseThenPump();
    else this.pump();
  }

  private pauseThenPump(): void {
    if (this.timer !== undefined) return;
    const pause = Math.min(BUSY_PAUSE_MAX_MS, BUSY_PAUSE_MS * 2 ** this.busyStreak);
    this.busyStreak++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, pause);
  }

  private onAccepted(reply: Reply, sent: Sent, now: number): void {
    this.busyStreak = 0;
    this.rec.entriesAcceptedTotal[this.spec.cls] += sent.count;
    const latencyUs = Math.max(1, Math.round((now - sent.at) * 1000));
    if (sent.measured) {
      const c = this.rec.counts[this.spec.cls];
      c.framesAccepted++;
      c.entriesAccepted += sent.count;
      this.rec.accepted[this.spec.cls].recordValue(latencyUs);
      let chain = this.rec.chains.get(this.spec.chain);
      if (chain === undefined) {
        chain = { accepted: newHistogram(), entries: 0 };
        this.rec.chains.set(this.spec.chain, chain);
      }
      chain.accepted.recordValue(latencyUs);
      chain.entries += sent.count;
    }
    if (this.rec.inWindow(now)) {
      this.rec.interval[this.spec.cls].recordValue(latencyUs);
      this.rec.intervalEntries += sent.count;
    }
    const seq = Number(reply.seq);
    this.toCommit.push({ at: sent.at, count: sent.count, end: seq + sent.count, remaining: sent.count, measured: sent.measured });
    // A gateway that never commits would otherwise grow this queue for the whole run.
    if (!this.rec.committedSeen && this.toCommit.length > 100_000) this.toCommit.shift();
  }

  /** A block [seq, seq+count) is durable: credit the frames it covers, oldest first. */
  private onCommitted(reply: Reply, now: number): void {
    this.rec.committedSeen = true;
    const from = Number(reply.seq);
    const to = from + Number(reply.count);
    for (let u = this.toCommit.peek(); u !== undefined && u.end - u.remaining < to; u = this.toCommit.peek()) {
      if (u.end <= from) {
        // Its block's notice never came (a gateway bug): stop waiting for it.
        this.toCommit.shift();
        if (u.measured) this.rec.error('commit_missing', true);
        continue;
      }
      const start = u.end - u.remaining;
      const covered = Math.max(0, Math.min(u.end, to) - Math.max(start, from));
      u.remaining -= covered;
      this.rec.entriesCommittedTotal[this.spec.cls] += covered;
      if (u.remaining > 0) break; // the rest of the frame is in a later block
      this.toCommit.shift();
      if (!u.measured) continue;
      const c = this.rec.counts[this.spec.cls];
      c.framesCommitted++;
      c.entriesCommitted += u.count;
      this.rec.committed[this.spec.cls].recordValue(Math.max(1, Math.round((now - u.at) * 1000)));
    }
  }

  private onClose(code: number, reason: string): void {
    const wasOpen = this.open;
    this.open = false;
    this.stop();
    if (!wasOpen) return;
    if (!this.closedHere) {
      this.rec.connectionsLost++;
      const why = `${this.spec.cls} ${code}${reason === '' ? '' : ` ${reason.slice(0, 60)}`}`;
      this.rec.lostBecause[why] = (this.rec.lostBecause[why] ?? 0) + 1;
    }
    for (const s of this.sent.drain()) this.rec.error('disconnected', s.measured);
  }
}

// ---- process body: init → ready → go → intervals … → done

function send(message: FromWorker): void {
  process.send?.(message);
}

async function init(msg: InitMessage, rec: Recorder): Promise<LoadConnection[]> {
  const conns = msg.conns.map((spec) => new LoadConnection(spec, msg.url, msg.entrySize, rec, msg.keys?.[spec.chain]));
  const failures = (await Promise.all(conns.map((c) => c.opened()))).filter((f): f is string => f !== undefined);
  send({ type: 'ready', failures });
  return conns;
}

function at(epochMs: number, fn: () => void): void {
  setTimeout(fn, Math.max(0, epochMs - epochNow()));
}

function scheduleIntervals(go: GoMessage, rec: Recorder): void {
  const count = Math.ceil((go.measureUntil - go.measureFrom) / go.intervalMs);
  for (let i = 0; i < count; i++) {
    at(Math.min(go.measureFrom + (i + 1) * go.intervalMs, go.measureUntil), () => {
      const latency = { heavy: encodeHistogram(rec.interval.heavy), light: encodeHistogram(rec.interval.light) };
      const message: IntervalMessage = { type: 'interval', index: i, entries: rec.intervalEntries, latency };
      rec.interval.heavy.reset();
      rec.interval.light.reset();
      rec.intervalEntries = 0;
      send(message);
    });
  }
}

/** After sending stops: wait for every reply and (when the target commits) every measured commit. */
async function drain(conns: readonly LoadConnection[], until: number): Promise<void> {
  while (epochNow() < until && conns.some((c) => c.waiting())) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function run(go: GoMessage, conns: LoadConnection[], rec: Recorder): void {
  rec.measureFrom = localTime(go.measureFrom);
  rec.measureUntil = localTime(go.measureUntil);
  at(go.startAt, () => conns.forEach((c, i) => c.start(i / conns.length)));
  let cpu = process.cpuUsage();
  let elu = performance.eventLoopUtilization();
  at(go.measureFrom, () => {
    cpu = process.cpuUsage();
    elu = performance.eventLoopUtilization();
  });
  scheduleIntervals(go, rec);
  at(go.measureUntil, () => {
    const used = process.cpuUsage(cpu);
    const loop = performance.eventLoopUtilization(elu);
    conns.forEach((c) => c.stop());
    void drain(conns, go.drainUntil).then(() => {
      const uncommitted = conns.reduce((n, c) => n + c.uncommitted(), 0);
      conns.forEach((c) => c.close());
      const result = finish(rec, conns.length, (used.user + used.system) / 1e6, (go.measureUntil - go.measureFrom) / 1000, loop.utilization, uncommitted);
      const done: DoneMessage = { type: 'done', result };
      process.send?.(done, () => process.exit(0));
    });
  });
}

function finish(rec: Recorder, connections: number, cpuSeconds: number, wallSeconds: number, elu: number, uncommitted: number): WorkerResult {
  const enc = (cls: ChainClass): { accepted: string; committed: string } => ({
    accepted: encodeHistogram(rec.accepted[cls]),
    committed: encodeHistogram(rec.committed[cls]),
  });
  return {
    connections,
    cpuSeconds,
    wallSeconds,
    elu,
    histograms: { heavy: enc('heavy'), light: enc('light') },
    counts: rec.counts,
    errors: rec.errors,
    committedSeen: rec.committedSeen,
    uncommitted: rec.committedSeen ? uncommitted : 0,
    entriesAcceptedTotal: rec.entriesAcceptedTotal,
    entriesCommittedTotal: rec.entriesCommittedTotal,
    connectionsLost: rec.connectionsLost,
    lostBecause: rec.lostBecause,
    skipped: rec.skipped,
    lateSends: rec.lateSends,
    maxLateMs: rec.maxLateMs,
    chains: Object.fromEntries([...rec.chains].map(([name, c]) => [name, { accepted: encodeHistogram(c.accepted), entriesAccepted: c.entries }])),
  };
}

function main(): void {
  const rec = new Recorder();
  let conns: Promise<LoadConnection[]> | undefined;
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'init') conns = init(msg, rec);
    else if (conns !== undefined) void conns.then((c) => run(msg, c, rec));
  });
  // The parent going away (crash, Ctrl-C) must not leave this process sending.
  process.on('disconnect', () => process.exit(0));
}

main();
