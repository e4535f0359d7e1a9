// One client, one single-entry frame at a time: sends a 200-byte entry, waits
// for its `accepted`, then (after --gap-ms) the next. The quietest load there
// is: every frame finds the server asleep, and nothing else of the client's is
// in flight. Prints the latency to `accepted` and, with --pid, the serving
// thread's user and system CPU a frame (from /proc, --thread names it; the
// process's main thread otherwise).
//
// It is also how RESULTS "A quiet gateway" counts a quiet frame's instructions
// against the echo's: the server under callgrind, warmed up by this, counted
// over one more run of it (bench/README.md, "One frame at a time").
//
// Run: npm run build && node dist/bench/one-at-a-time.js --url ws://127.0.0.1:9001 [--frames 20000] [--gap-ms 1] [--pid N]
import { randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { isMain } from './peers/common.js';
import { threadCpuTimes, type CpuTimes } from './proc.js';
import { newHistogram, summarize, type LatencySummary } from './stats.js';

const ENTRY_BYTES = 200;

const packr = new Packr({ useRecords: false });

/** Sends `frames` single-entry frames to the stream at `url`, each after the last one's `accepted` and `gapMs`; their latency in µs. */
export function oneAtATime(url: string, frames: number, gapMs: number): Promise<LatencySummary> {
  const latency = newHistogram();
  let settled = false;
  // 'error' is followed by 'close': the first to settle frees the histogram.
  const settle = <T>(done: (value: T) => void, value: T): void => {
    if (settled) return;
    settled = true;
    latency.destroy();
    done(value);
  };
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'nodebuffer';
    let answered = 0;
    let sentAt = 0n;
    const send = (): void => {
      const frame = packr.pack([randomFillSync(Buffer.allocUnsafe(ENTRY_BYTES))]);
      sentAt = process.hrtime.bigint();
      ws.send(frame);
    };
    ws.on('open', send);
    ws.on('error', (error) => settle(reject, error));
    ws.on('message', (data: Buffer) => {
      const reply = packr.unpack(data) as { type: string; message?: string };
      if (reply.type === 'committed') return;
      if (reply.type !== 'accepted') {
        ws.close();
        settle(reject, new Error(`the server answered ${reply.type}: ${reply.message ?? ''}`));
        return;
      }
      latency.recordValue(Math.max(1, Math.round(Number(process.hrtime.bigint() - sentAt) / 1000)));
      answered++;
      if (answered === frames) ws.close();
      else if (gapMs > 0) setTimeout(send, gapMs);
      else send();
    });
    ws.on('close', () => {
      if (answered < frames) return settle(reject, new Error(`the stream closed after ${answered} of ${frames} frames`));
      settle(resolve, summarize(latency)!);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      frames: { type: 'string', default: '20000' },
      'gap-ms': { type: 'string', default: '1' },
      pid: { type: 'string' },
      thread: { type: 'string' },
    },
  });
  if (values.url === undefined) throw new Error('--url ws://HOST:PORT is required (a gateway or a peer)');
  const url = `${values.url.replace(/\/$/, '')}/v1/chains/one-at-a-time/stream`;
  const frames = Number(values.frames);
  const gapMs = Number(values['gap-ms']);
  if (!Number.isInteger(frames) || frames < 1) throw new Error(`--frames must be a whole number ≥ 1, not ${values.frames}`);
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new Error(`--gap-ms must be ≥ 0, not ${values['gap-ms']}`);
  const pid = values.pid === undefined ? undefined : Number(values.pid);
  const cpu = (): CpuTimes => {
    const times = threadCpuTimes(pid!, values.thread);
    if (times === undefined) throw new Error(`no thread ${values.thread ?? '(main)'} of process ${pid} in /proc`);
    return times;
  };
  const before = pid === undefined ? null : cpu();
  const result = await oneAtATime(url, frames, gapMs);
  const line = [`${frames} frames, ${gapMs} ms apart: p50 ${result.p50} µs, p90 ${result.p90}, p99 ${result.p99}`];
  if (before !== null) {
    const after = cpu();
    const perFrame = (seconds: number): string => ((seconds * 1e6) / frames).toFixed(1);
    line.push(`serving thread: user ${perFrame(after.user - before.user)} µs a frame, system ${perFrame(after.system - before.system)} µs`);
  }
  console.log(line.join('; '));
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`one-at-a-time: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
