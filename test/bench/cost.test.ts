// --cost (bench/cost.ts): what it reads from callgrind, vgdb and perf, the
// fixed workload it sends, one whole measurement under callgrind, and the
// heap counter (bench/heap-probe.cts) against V8's own count and on a gateway.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCallgrindDump, parsePerfPerThread, parseScheduler, selfCostByKind } from '../../bench/cost.js';
import { costWorkload, workloadEntries } from '../../bench/cost-workload.js';
import { codeAt, nameJitCode, parsePerfMap } from '../../bench/jit-names.js';
import type { HeapProbeTally } from '../../bench/heap-probe.cjs';
import { parseOptions } from '../../bench/options.js';
import { chainPrefix, zipfPlan } from '../../bench/plan.js';
import { ROOT } from '../helpers/index.js';

// Shaped as callgrind 3.19 writes a dump with --separate-threads=yes and compressed names.
const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4361
cmd:  node dist/src/cli.js serve
part: 2
thread: 13

positions: line
events: Ir
summary: 1000

ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) sha256_block_data_order_avx2
0 600
fn=(2) (anonymous namespace)::Sha256Spans(Napi::CallbackInfo const&)
0 100
cfn=(1)
calls=3 0
0 300
cfn=(3) __memcpy_avx_unaligned_erms
calls=1 0
0 40
fn=(3)
0 40
fn=(4) v8::internal::relaxed_memmove(char volatile*, char const volatile*, unsigned long)
+2 10
fn=(1)
0 250

totals: 1000
`;

describe('--cost: reading the counters', () => {
  it("takes a dump's totals and thread, and the self cost of SHA-256 and of copies, not the calls into them", () => {
    expect(parseCallgrindDump(DUMP)).toEqual({ thread: 13, instructions: 1000 });
    // 600 + 250 of the compression function itself; the 300 after calls= is Sha256Spans's inclusive cost of calling it.
    expect(selfCostByKind(DUMP)).toEqual({ sha256: 850, copies: 50, gc: 0, jit: 0 });
    expect(() => parseCallgrindDump('thread: 1\n')).toThrow(/without totals/);
  });

  it("maps valgrind's thread ids to the kernel's from v.info scheduler, skipping empty slots", () => {
    const text = [
      'sending command v.info scheduler to pid 8831',
      'Thread 1: status = VgTs_WaitSys syscall 281 (lwpid 8831)',
      '==8831==    at 0x62FDCAE: epoll_pwait (epoll_pwait.c:40)',
      'Thread 16: status = VgTs_Runnable (lwpid 8850)',
      'Thread 17: status = VgTs_Empty (lwpid 0)',
    ].join('\n');
    expect([...parseScheduler(text)]).toEqual([
      [1, 8831],
      [16, 8850],
    ]);
  });

  it('reads perf stat --per-thread -x, lines by thread name and id, and skips counts perf could not take', () => {
    const text = [
      '# started on Sun Dec  6 04:14:35 2026',
      '',
      'cl-frontdoor-4361,2063000,,instructions:u,1000,100.00,,',
      'cl-lane-heavy-4372,8182000,,instructions:u,1000,100.00,,',
      'node-4380,<not supported>,,instructions:u,0,100.00,,',
      'cl-sealer-4375,12.5,msec,task-clock,1000,100.00,,',
    ].join('\n');
    expect(parsePerfPerThread(text, 'instructions')).toEqual([
      { name: 'cl-frontdoor', tid: 4361, count: 2063000 },
      { name: 'cl-lane-heavy', tid: 4372, count: 8182000 },
    ]);
  });
});

describe('--cost: its flags', () => {
  it('takes --block-interval with --cost only', () => {
    expect(parseOptions(['--cost', '--block-interval', '2000'])).toMatchObject({ mode: 'cost', blockIntervalMs: 2000 });
    expect(parseOptions(['--cost'])).toMatchObject({ blockIntervalMs: undefined });
    expect(() => parseOptions(['--compare', '--block-interval', '2000'])).toThrow(/--block-interval apply to --cost only/);
    expect(() => parseOptions(['--cost', '--block-interval', '0'])).toThrow(/--block-interval must be an integer ≥ 1, got 0/);
  });
});

describe('--cost: the fixed workload', () => {
  it('is the --compare plan with a fixed number of frames: heavy connections at full window, light chains by their rate', () => {
    const plan = zipfPlan({ chains: 16, connections: 24, batch: 64, inflight: 16, zipf: 1, lightRate: 200, workers: 2 }, chainPrefix());
    const w = costWorkload(plan, 150, 64, 200, 16);
    const heavy = w.connections.filter((c) => c.window === 16);
    const light = w.connections.filter((c) => c.window === 1);
    expect(heavy.length).toBe(10);
    expect(heavy.every((c) => c.frames === 150)).toBe(true);
    expect(light.length).toBe(14);
    // The busiest light chain at 200 frames/s beside heavy connections at ~1,500: 20 frames; every light chain at least 1.
    expect(Math.max(...light.map((c) => c.frames))).toBe(20);
    expect(Math.min(...light.map((c) => c.frames))).toBeGreaterThanOrEqual(1);
    const lightEntries = light.reduce((n, c) => n + c.frames, 0) * 64;
    expect(workloadEntries(w)).toBe(heavy.length * 150 * 64 + lightEntries);
    // Light chains carry a small share of the entries, as in --compare.
    expect(lightEntries / workloadEntries(w)).toBeLessThan(0.15);
  });
});

/** `npm run bench -- --cost` on a short open-mode run, its JSON report. */
function runCost(counter: string, frames: number, blockIntervalMs: number, timeoutMs: number, profileDir?: string): string {
  const args = [
    ...(profileDir === undefined ? [] : ['--profile', profileDir]),
    '--cost',
    '--counter',
    counter,
    '--frames',
    String(frames),
    '--block-interval',
    String(blockIntervalMs),
    '--target',
    'chainlanes-open',
    '--json',
  ];
  return execFileSync(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), ...args], { encoding: 'utf8', timeout: timeoutMs });
}

// jit-names.ts: callgrind's unnamed addresses, named from node's perf map.
describe('jit-names', () => {
  const MAP = [
    '1000 100 JS:*admit file:///x/dist/src/frontdoor/admission.js:1:1',
    '2000 40 JS:^message file:///x/stream.js:2:2',
    'not a line',
    '1000 80 JS:~reused file:///x/r.js:3:3',
  ].join('\n');

  it('finds the code holding an address, and nothing past its end or between pieces', () => {
    const codes = parsePerfMap(MAP);
    expect(codes).toHaveLength(3);
    expect(codeAt(codes, 0x2010n)?.name).toBe('JS:^message file:///x/stream.js:2:2');
    expect(codeAt(codes, 0x2040n)).toBeUndefined();
    expect(codeAt(codes, 0x1800n)).toBeUndefined();
    expect(codeAt(codes, 0xfffn)).toBeUndefined();
    // An address V8 used twice: the map's later line wins.
    expect(codeAt(codes, 0x1010n)?.name).toBe('JS:~reused file:///x/r.js:3:3');
  });

  it("rewrites callgrind_annotate's ???:0x… [???], with or without a call count, and leaves what it cannot name", () => {
    const codes = parsePerfMap(MAP);
    const annotated = [
      '1,000 (10.00%)  ???:0x0000000000002004 [???]',
      '  500 ( 5.00%)  < ???:0x0000000000002008 (21,505x) [???]',
      '  100 ( 1.00%)  ???:0x0000000000009000 [???]',
      '   50 ( 0.50%)  ???:sha256_block_data_order [/usr/bin/node]',
    ].join('\n');
    expect(nameJitCode(annotated, codes).split('\n')).toEqual([
      '1,000 (10.00%)  JIT JS:^message file:///x/stream.js:2:2',
      '  500 ( 5.00%)  < JIT JS:^message file:///x/stream.js:2:2 (21,505x)',
      '  100 ( 1.00%)  ???:0x0000000000009000 [???]',
      '   50 ( 0.50%)  ???:sha256_block_data_order [/usr/bin/node]',
    ]);
  });
});

// valgrind is a CI package (.ci/run); without it the harness says so.
describe('npm run bench -- --cost', () => {
  it('counts a fixed workload under callgrind, by thread, with the SHA-256 floor apart, and keeps dumps its JavaScript can be named in', () => {
    const kept = mkdtempSync(join(tmpdir(), 'cost-kept-'));
    const out = runCost('callgrind', 4, 2000, 900_000, kept);
    const report = JSON.parse(out) as {
      cost: {
        counter: string;
        workload: { entries: number; busy: number };
        perEntry: Record<string, number>;
        kinds: Record<string, Record<string, number>>;
        idle: Record<string, number>;
        threads: { name: string }[];
      }[];
    };
    expect(report.cost).toHaveLength(1);
    const run = report.cost[0]!;
    expect(run.counter).toBe('callgrind');
    expect(run.workload.entries).toBeGreaterThan(0);
    // Every named part of the path did work, found by its thread's name.
    expect(run.perEntry['front door']).toBeGreaterThan(0);
    expect(run.perEntry.lanes).toBeGreaterThan(0);
    expect(run.perEntry.sealer).toBeGreaterThan(0);
    expect(run.threads.map((t) => t.name)).toEqual(expect.arrayContaining(['cl-frontdoor', 'cl-sealer']));
    // Each entry is hashed in a lane and its leaf and node in the sealer: SHA-256 runs there, and is part of their count.
    expect(run.kinds.sha256!.lanes).toBeGreaterThan(0);
    expect(run.kinds.sha256!.sealer).toBeGreaterThan(0);
    expect(run.kinds.sha256!.lanes).toBeLessThan(run.perEntry.lanes!);
    // The idle gateway runs some timers; the lanes have nothing to do.
    expect(run.idle['front door']).toBeGreaterThan(0);
    expect(run.idle.lanes).toBe(0);
    // Kept: the counted pass's dumps and node's map of its JIT code, which names the gateway's own functions in them.
    const files = readdirSync(kept);
    const map = files.find((f) => /^perf-\d+\.map$/.test(f));
    const frontDoor = files.find((f) => /^cg\.\d+\.2-01$/.test(f));
    expect(map).toBeDefined();
    expect(frontDoor).toBeDefined();
    const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', join(kept, frontDoor!)], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    const named = nameJitCode(annotated, parsePerfMap(readFileSync(join(kept, map!), 'utf8')));
    // callgrind itself leaves JIT code unnamed; the map names the front door's own functions.
    expect(annotated).toMatch(/\?\?\?:0x[0-9a-f]+ \[\?\?\?\]/);
    expect(named).toMatch(/JIT JS:\S* file:\/\/\/\S*\/dist\/src\/frontdoor\//);
    rmSync(kept, { recursive: true, force: true });
  }, 900_000);
});

// --counter heap: bench/heap-probe.cts in every thread, against V8's own count.
describe('npm run bench -- --cost --counter heap', () => {
  it("tallies each thread's allocations as V8's own allocation counter does (--trace-gc-nvp), main thread and worker apart", () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-heap-probe-'));
    // ~800 MB in the main thread, ~400 MB in a worker; a full collection at the end of each, so V8's count covers it all.
    // V8's count also has what each thread allocated before the probe loaded (Node's bootstrap: 4–7 MB on Node 22 and 24).
    const allocate = (rounds: number): string =>
      `let keep = []; for (let i = 0; i < ${rounds}; i++) { keep.push(new Array(16).fill(i)); if (keep.length > 1000) keep = []; } keep = null; gc();`;
    const script = [
      "const { Worker } = require('node:worker_threads');",
      `const worker = new Worker(${JSON.stringify(`${allocate(2_000_000)} setTimeout(() => {}, 200);`)}, { eval: true });`,
      `${allocate(4_000_000)}`,
      "worker.on('exit', () => setTimeout(() => {}, 200));",
    ].join('\n');
    const nvp = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-nvp', '--require', join(ROOT, 'dist', 'bench', 'heap-probe.cjs'), '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, CHAINLANES_HEAP_PROBE_DIR: dir },
    });
    // V8's lines start "[pid:isolate]" ("[pid:isolate:context]" from Node 24); "allocated=" is what the isolate allocated since its collection before.
    const byIsolate = new Map<string, number>();
    for (const m of nvp.matchAll(/^\[\d+:(0x[0-9a-f]+)(?::\d+)?\].*\ballocated=(\d+)/gm)) byIsolate.set(m[1]!, (byIsolate.get(m[1]!) ?? 0) + Number(m[2]));
    const v8Counts = [...byIsolate.values()].sort((a, b) => b - a);
    const tallies = readdirSync(dir)
      .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as HeapProbeTally)
      .sort((a, b) => b.allocatedBytes - a.allocatedBytes);
    expect(tallies).toHaveLength(2);
    expect(v8Counts.length).toBeGreaterThanOrEqual(2);
    expect(v8Counts[0]).toBeGreaterThan(1.5 * v8Counts[1]!);
    for (const [i, tally] of tallies.entries()) {
      expect(tally.allocatedBytes / v8Counts[i]!).toBeGreaterThan(0.96);
      expect(tally.allocatedBytes / v8Counts[i]!).toBeLessThan(1.03);
      expect(Object.values(tally.collections).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a fixed workload by thread, and names the threads it cannot count', () => {
    const out = runCost('heap', 20, 200, 120_000);
    const run = (
      JSON.parse(out) as { cost: { counter: string; perEntry: Record<string, number>; threads: { name: string; count: number; uncounted?: true }[] }[] }
    ).cost[0]!;
    expect(run.counter).toBe('heap');
    // Every frame leaves a reply and a frame record on the front door; every seal a little on the sealer.
    expect(run.perEntry['front door']).toBeGreaterThan(0);
    expect(run.perEntry.sealer).toBeGreaterThan(0);
    const counted = run.threads.filter((t) => t.uncounted !== true).map((t) => t.name);
    expect(counted).toEqual(expect.arrayContaining(['cl-frontdoor', 'cl-sealer']));
    // The lanes wait for tasks in Atomics.wait, never in their event loop: named, not counted as zero.
    expect(run.threads.filter((t) => t.uncounted === true).map((t) => t.name)).toEqual(expect.arrayContaining(['cl-lane-light']));
  }, 120_000);
});
