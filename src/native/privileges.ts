// Whether this process may put a thread under real-time scheduling
// (sched_setscheduler's own rule on Linux): with CAP_SYS_NICE in its effective
// set, or an RLIMIT_RTPRIO at least the priority asked for.
import { readFileSync } from 'node:fs';

/** CAP_SYS_NICE's bit in /proc/PID/status's CapEff (linux/capability.h). */
const CAP_SYS_NICE = 23n;

/** Whether a thread of this process may be made real-time at `priority` (1..99); false where it cannot be told. */
export function mayRunRealtime(priority = 1): boolean {
  if (process.platform !== 'linux') return false;
  return hasSysNice() || realtimePriorityLimit() >= priority;
}

function hasSysNice(): boolean {
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_SYS_NICE) & 1n) === 1n;
}

/** The soft RLIMIT_RTPRIO ("Max realtime priority" in /proc/self/limits); 0 where unreadable. */
function realtimePriorityLimit(): number {
  const soft = /^Max realtime priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  if (soft === undefined) return 0;
  return soft === 'unlimited' ? Infinity : Number(soft);
}
