// scheduler.frontDoorRealtimePriority's other half: the node flags a real-time
// front door wants. The privilege it needs is src/native/privileges.ts.

/**
 * The node flags a real-time front door wants, in node's command line before
 * the script: V8 takes them only at start (node refuses them in NODE_OPTIONS,
 * and V8 crashed when --single-threaded-gc was set at run time).
 * - `--single-threaded-gc`: V8 collects on the collecting thread alone. With
 *   its parallel collector the real-time front door slept up to 52 ms in a
 *   turn waiting for V8's ordinary helper threads.
 * - `--max-semi-space-size=4`: under --single-threaded-gc with V8's
 *   default 16 MB semi-spaces, V8 (11.3, Node 20) started marking the front
 *   door's whole heap at half its limit (23 of 47 MB): a mark-compact every
 *   ~200 ms, ~25 ms of marking each on the front door, 1.2–1.4 s of its CPU
 *   in a hostile run. With 8 MB semi-spaces 5–18 a run instead of 57–67;
 *   with 4 MB, 4–6, and fewer scavenges over 5 ms (0–3 a run against 4–5),
 *   for ~0.02 CPU-s per million entries more than 8 MB.
 * Both measured in bench/history/2026-12-07.md ("What a real-time thread
 * waits for"; "The front door's collections under --single-threaded-gc").
 */
export const REALTIME_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=4'];

/** Those of REALTIME_NODE_FLAGS that node was not started with; a flag counts by its name, whatever value it was given. */
export function missingRealtimeNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(flagName));
  return REALTIME_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
}

/** `--max-semi-space-size=4` and `--max_semi_space_size 4` both name `--max-semi-space-size` (V8 reads `_` as `-`). */
function flagName(arg: string): string {
  return (arg.split('=', 1)[0] ?? arg).replaceAll('_', '-');
}
