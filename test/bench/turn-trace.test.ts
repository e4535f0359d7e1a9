// The long-turn tracer's reading of perf's output (bench/turn-trace.ts), on
// text in the form `perf script` prints it: samples put down to the right part,
// time off the CPU split into waiting and blocking, the core's holder named.
import { describe, expect, it } from 'vitest';
import { contextSwitches, cpuSamples, formatTrace, partOf, roleOf, traceTurn } from '../../bench/turn-trace.js';

const FRONT_DOOR = 100;
const ATTACK = '200';

// `perf script -F time,period,ip,sym,dso`: a JavaScript frame handler, a loopback send, a scavenge; one sample outside the turn.
const SAMPLES = `
      10.001000:     500000
	    7f64ee7a0001 JS:*flush file:///work/main/dist/src/frontdoor/stream.js:133:10 (/tmp/perf-100.map)
	    7f64ee7a0002 JS:*message file:///work/main/dist/src/frontdoor/stream.js:235:16 (/tmp/perf-100.map)
	          14ce003 Builtins_JSEntry (/usr/bin/node)
	    7f0000000001 uWS::WebSocketContext (/work/main/node_modules/uws/uws_linux_x64_115.node)

      10.001500:     500000
	ffffffff8100aaaa tcp_v4_rcv ([kernel.kallsyms])
	ffffffff8100bbbb process_backlog ([kernel.kallsyms])
	ffffffff8100cccc __sys_sendto ([kernel.kallsyms])
	    7f0000000002 us_socket_write (/work/main/node_modules/uws/uws_linux_x64_115.node)

      10.002000:     500000
	          c4993d v8::internal::Scavenger::ScavengePage (/usr/bin/node)
	          c4ab6f v8::internal::Heap::CollectGarbage (/usr/bin/node)

      10.030000:     500000
	ffffffff8100dddd tcp_recvmsg_locked ([kernel.kallsyms])
	ffffffff8100eeee __sys_recvfrom ([kernel.kallsyms])
`;

// `perf script -F cpu,time,event,trace` of sched:sched_switch: preempted by the attack for 6 ms, then asleep 2 ms.
const SWITCHES = `
[000]    10.002500: sched:sched_switch: prev_comm=cl-frontdoor prev_pid=${FRONT_DOOR} prev_prio=120 prev_state=R+ ==> next_comm=node worker next_pid=${ATTACK} next_prio=120
[000]    10.008500: sched:sched_switch: prev_comm=node prev_pid=${ATTACK} prev_prio=120 prev_state=R ==> next_comm=cl-frontdoor next_pid=${FRONT_DOOR} next_prio=120
[001]    10.009000: sched:sched_switch: prev_comm=node prev_pid=300 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
[000]    10.009000: sched:sched_switch: prev_comm=cl-frontdoor prev_pid=${FRONT_DOOR} prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120
[000]    10.011000: sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=cl-frontdoor next_pid=${FRONT_DOOR} next_prio=120
`;

describe('turn trace', () => {
  it('reads samples with their stacks and the context switches', () => {
    const samples = cpuSamples(SAMPLES);
    expect(samples.map((s) => s.atMs)).toEqual([10_001, 10_001.5, 10_002, 10_030]);
    expect(samples[0]!.ms).toBe(0.5);
    expect(samples[0]!.frames[0]).toEqual({ sym: 'JS:*flush file:///work/main/dist/src/frontdoor/stream.js:133:10', dso: 'perf-100.map' });
    const switches = contextSwitches(SWITCHES);
    expect(switches).toHaveLength(5);
    expect(switches[0]).toEqual({ cpu: 0, atMs: 10_002.5, prevTid: String(FRONT_DOOR), prevState: 'R+', nextTid: ATTACK });
  });

  it('puts each sample down to its part: our outermost JavaScript, the loopback peer, the collector', () => {
    const [js, loopback, gc, read] = cpuSamples(SAMPLES).map((s) => partOf(s.frames));
    expect(js).toBe('JavaScript: message frontdoor/stream.js:235');
    expect(loopback).toMatch(/^kernel: loopback delivery/);
    expect(gc).toBe('garbage collection');
    expect(read).toBe('kernel: socket reads');
    expect(partOf([{ sym: 'us_socket_read', dso: 'uws_linux_x64_115.node' }])).toBe('uWS (no JavaScript)');
    expect(
      partOf([
        { sym: 'Builtins_CompileLazy', dso: 'node' },
        { sym: 'JS:^cutBlocks file:///x/dist/src/frontdoor/admission.js:322:14', dso: 'perf-1.map' },
      ]),
    ).toBe('compiling JavaScript');
  });

  it('splits a turn into its CPU by part, its wait for a core with who held it, and its blocking', () => {
    const roles = { [ATTACK]: 'attack', [String(FRONT_DOOR)]: 'gateway cl-frontdoor' };
    // The turn: 10.000–10.012 s, 12 ms busy.
    const trace = traceTurn(10_012, 12, cpuSamples(SAMPLES), contextSwitches(SWITCHES), FRONT_DOOR, roles);
    expect(trace.cpu.map((p) => p.part)).toHaveLength(3);
    expect(trace.cpu.reduce((n, p) => n + p.ms, 0)).toBeCloseTo(1.5);
    expect(trace.waitingMs).toBeCloseTo(6);
    expect(trace.blockedMs).toBeCloseTo(2);
    expect(trace.ranInstead).toEqual([{ who: 'attack', ms: expect.closeTo(6, 6) as number }]);
    expect(formatTrace(trace)).toMatch(/sampled CPU 1\.5 ms: .*; waited 6\.0 ms for a core \(on it meanwhile: attack 6\.0\); blocked 2\.0 ms$/);
  });

  it('a turn the thread spent off its core from before it began is cut at the turn', () => {
    const trace = traceTurn(10_005, 2, [], contextSwitches(SWITCHES), FRONT_DOOR, {});
    expect(trace.waitingMs).toBeCloseTo(2);
    expect(trace.ranInstead).toEqual([{ who: `thread ${ATTACK}`, ms: expect.closeTo(2, 6) as number }]);
  });

  it('names threads by what they are', () => {
    expect(roleOf(true, '/usr/bin/node dist/src/cli.js serve', 'cl-lane-heavy')).toBe('gateway cl-lane-heavy');
    expect(roleOf(true, '/usr/bin/node dist/src/cli.js serve', 'node')).toBe('gateway V8/libuv helpers');
    expect(roleOf(false, '/usr/bin/node /work/main/dist/bench/hostile-worker.js', 'node')).toBe('attack');
    expect(roleOf(false, '/usr/bin/node /work/main/dist/bench/busy-loop.js', 'node')).toBe('control busy loop');
    expect(roleOf(false, '/usr/bin/node /work/main/dist/bench/load-worker.js', 'node')).toBe('bystander clients');
    expect(roleOf(false, '', 'ksoftirqd/0')).toBe('kernel ksoftirqd');
  });
});
