// The threads a Node process runs beside its own (V8's platform workers, which
// mark and compile concurrently for every isolate, and libuv's pool) yield the
// CPU to the gateway's threads: they get a higher nice value, once, when the
// first gateway of the process starts and before it starts a thread of its own.
//
// Why: on two cores under an attack held to half a core, the front door's
// longest turns were mostly its thread waiting for a core, and the gateway's
// own helpers were among what held it (bench/turn-trace.ts). With the helpers
// at nice 10, turns over 10 ms fell from 23–50 to 13–20 a run and the light
// bystander's p99 from a median of 26 to 17 ms (bench/history/2026-12-07.md,
// "Node's helper threads at nice 10").
//
// Which threads: Node 22 and later name them (NODE_HELPER_NAMES); Node 20
// leaves them the process's own name (a thread is named after its creator,
// and every helper was made before the gateway named any of its own), so
// there the helpers are the threads other than the calling one that bear its
// name. The caller must be the process's main thread (from a worker, the main
// thread would bear the same name). Done once per process: a later gateway in
// the same process (tests) would find the earlier one's unnamed threads.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** What Node 22+ names the threads it runs beside the script's (15 bytes at most, as Linux keeps them). */
const NODE_HELPER_NAMES: ReadonlySet<string> = new Set(['V8Worker', 'DelayedTaskSche', 'libuv-worker', 'SignalInspector']);

let done = false;

/** Sets the helpers' nice value (raising it needs no privilege); nothing where it does not apply (not Linux, not the main thread, done before). */
export function yieldHelperThreads(nice: number): void {
  if (done || !isMainThread || process.platform !== 'linux') return;
  done = true;
  const self = readFileSync('/proc/thread-self/comm', 'utf8').trim();
  const selfTid = threadSelfId();
  for (const tid of readdirSync('/proc/self/task')) {
    if (Number(tid) === selfTid) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // ended meanwhile
    }
    if (comm !== self && !NODE_HELPER_NAMES.has(comm)) continue;
    try {
      setPriority(Number(tid), nice);
    } catch {
      // ended meanwhile
    }
  }
}

/** The calling thread's id, from /proc/thread-self (a link to /proc/PID/task/TID). */
function threadSelfId(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  return Number(stat.slice(0, stat.indexOf(' ')));
}
