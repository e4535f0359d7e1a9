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
import { readdirSync, readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { isMain } from './peers/common.js';

const ENTRY_BYTES = 200;
/** Linux's clock ticks a second, in which /proc/PID/task/TID/stat counts CPU time. */
const TICKS_PER_SECOND = 100;

export interface OneAtATimeResult {
  frames: number;
  /** Latency to `accepted`, microseconds, at p50, p90 and p99. */
  p50: number;
  p90: number;
  p99: number;
}

const packr = new Packr({ useRecords: false });

/** Sends `frames` single-entry frames to the stream at `url`, each after the last one's `accepted` and `gapMs`. */
export function oneAtATime(url: string, frames: number, gapMs: number): Promise<OneAtATimeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'nodebuffer';
    const latencies: number[] = [];
    let sentAt = 0n;
    const send = (): void => {
      const frame = packr.pack([randomFillSync(Buffer.allocUnsafe(ENTRY_BYTES))]);
      sentAt = process.hrtime.bigint();
      ws.send(frame);
    };
    ws.on('open', send);
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const reply = packr.unpack(data) as { type: string; message?: string };
      if (reply.type === 'committed') return;
      if (reply.type !== 'accepted') {
        ws.close();
        reject(new Error(`the server answered ${reply.type}: ${reply.message ?? ''}`));
        return;
      }
      latencies.push(Number(process.hrtime.bigint() - sentAt) / 1000);
      if (latencies.length === frames) ws.close();
      else if (gapMs > 0) setTimeout(send, gapMs);
      else send();
    });
    ws.on('close', () => {
      if (latencies.length < frames) return reject(new Error(`the stream closed after ${latencies.length} of ${frames} frames`));
      latencies.sort((a, b) => a - b);
      const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
      resolve({ frames, p50: at(0.5), p90: at(0.9), p99: at(0.99) });
    });
  });
}

/** A thread's user and system CPU ticks so far; `thread` is its name (comm), else the main thread. */
function threadTicks(pid: number, thread: string | undefined): { user: number; system: number } {
  const tid =
    thread === undefined ? String(pid) : readdirSync(`/proc/${pid}/task`).find((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === thread);
  if (tid === undefined) throw new Error(`process ${pid} has no thread named ${thread}`);
  // The fields after the command's closing parenthesis; utime and stime are the 14th and 15th of the line.
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
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
  const before = pid === undefined ? null : threadTicks(pid, values.thread);
  const result = await oneAtATime(url, frames, gapMs);
  const line = [`${frames} frames, ${gapMs} ms apart: p50 ${result.p50.toFixed(0)} µs, p90 ${result.p90.toFixed(0)}, p99 ${result.p99.toFixed(0)}`];
  if (pid !== undefined && before !== null) {
    const after = threadTicks(pid, values.thread);
    const perFrame = (ticks: number): string => ((ticks * 1e6) / TICKS_PER_SECOND / frames).toFixed(1);
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
