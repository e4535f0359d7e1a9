// The clock the bench's processes share: wall-clock epoch milliseconds
// (Date.now()), which every process reads from the same system clock. Each
// process turns such a time into its own performance.now() only when it
// schedules something (localTime), so nothing depends on when it started.
//
// Not performance.timeOrigin + performance.now(): timeOrigin is the wall clock
// once, at a process's start, and performance.now() runs on the monotonic
// clock, which the wall clock is slewed against (at 23:56 one evening on this
// VM they parted by 5 ms every second; half an hour later by none). Two
// processes started minutes apart then disagree by whatever slew came between,
// and a load window is placed that far off in a client started late.

/** Now, as the bench's processes exchange times. */
export function epochNow(): number {
  return Date.now();
}

/** `epochMs` on this process's performance.now() clock. */
export function localTime(epochMs: number): number {
  return performance.now() + (epochMs - Date.now());
}
