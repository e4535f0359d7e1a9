// Where the front door's long turns go, from a V8 CPU profile of its thread
// (`npm run bench -- --scenario hostile --profile DIR` writes one per thread;
// the front door's is the main thread's, the first file of the process).
//
//   node dist/bench/turn-profile.js PROFILE [--min-ms 5] [--from S] [--to S] [--top 25] [--depth 1]
//
// A turn is a run of samples between two "(idle)" samples (V8 marks the
// samples taken while the thread waits in the event loop). For the turns at
// least --min-ms long (by the samples' clock: wall time, so preemption shows as
// the functions that were running when the thread lost its core), it prints
// how many and how long, then self time by function over those turns only,
// and the same for every other turn, so what makes turns long stands out
// against what every turn does. --from/--to keep the samples between those
// seconds after the profile's start; --depth N labels each sample with its
// function and N − 1 callers ("self < caller < …").
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  parent?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Turn {
  /** Seconds after the profile's start. */
  at: number;
  ms: number;
  /** Self time (ms) by function label. */
  self: Map<string, number>;
}

function label(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') return name;
  const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

/** The profile's turns: runs of non-idle samples, each with its self time by function. */
export function turnsOf(profile: CpuProfile, fromS = 0, toS = Infinity, depth = 1): Turn[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes)
    for (const c of n.children ?? []) {
      const child = byId.get(c);
      if (child !== undefined) child.parent = n.id;
    }
  const stackLabel = (node: ProfileNode): string => {
    const parts: string[] = [];
    for (let at: ProfileNode | undefined = node; at !== undefined && parts.length < depth; at = at.parent === undefined ? undefined : byId.get(at.parent)) {
      if (at.callFrame.functionName === '(root)') break;
      parts.push(label(at.callFrame));
    }
    return parts.join(' < ');
  };
  const turns: Turn[] = [];
  let current: Turn | null = null;
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample's delta is the time since the one before: what ran until this one, attributed to it.
    const next = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    const s = t / 1e6;
    if (node === undefined || s < fromS || s > toS) continue;
    if (node.callFrame.functionName === '(idle)') {
      if (current !== null) turns.push(current);
      current = null;
      continue;
    }
    current ??= { at: s, ms: 0, self: new Map() };
    const ms = next / 1000;
    current.ms += ms;
    const key = stackLabel(node);
    current.self.set(key, (current.self.get(key) ?? 0) + ms);
  }
  if (current !== null) turns.push(current);
  return turns;
}

function sumSelf(turns: readonly Turn[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const turn of turns) for (const [k, v] of turn.self) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

function topLines(self: Map<string, number>, total: number, top: number): string[] {
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `  ${v.toFixed(1).padStart(9)} ms ${((100 * v) / Math.max(total, 1e-9)).toFixed(1).padStart(5)} %  ${k}`);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'min-ms': { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' }, depth: { type: 'string' } },
  });
  const file = positionals[0];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/turn-profile.js PROFILE [--min-ms 5] [--from S] [--to S] [--top 25]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const minMs = Number(values['min-ms'] ?? 5);
  const top = Number(values.top ?? 25);
  const turns = turnsOf(profile, Number(values.from ?? 0), Number(values.to ?? Infinity), Number(values.depth ?? 1));
  const long = turns.filter((t) => t.ms >= minMs);
  const rest = turns.filter((t) => t.ms < minMs);
  const total = (ts: readonly Turn[]): number => ts.reduce((n, t) => n + t.ms, 0);
  const lines = [
    `${file}: ${(profile.endTime - profile.startTime) / 1e6} s profiled; ${turns.length} turns, ${total(turns).toFixed(0)} ms busy`,
    `turns ≥ ${minMs} ms: ${long.length}, ${total(long).toFixed(0)} ms; the longest: ${[...long]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 10)
      .map((t) => `${t.ms.toFixed(0)} ms at ${t.at.toFixed(1)} s`)
      .join(', ')}`,
    '',
    `self time in the turns ≥ ${minMs} ms:`,
    ...topLines(sumSelf(long), total(long), top),
    '',
    `self time in the other turns (${rest.length}, ${total(rest).toFixed(0)} ms):`,
    ...topLines(sumSelf(rest), total(rest), Math.min(top, 12)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').slice(-2).join('/'))) main();
