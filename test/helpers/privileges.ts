// What this test process may do to the scheduler: real-time threads need
// CAP_SYS_NICE in the process's effective set (root has it, unless a
// container took it away).
import { readFileSync } from 'node:fs';

/** CAP_SYS_NICE's bit in /proc/PID/status's CapEff (linux/capability.h). */
const CAP_SYS_NICE = 23n;

/** Whether this process may make threads real-time (SCHED_RR). */
export function mayRunRealtime(): boolean {
  const status = readFileSync('/proc/self/status', 'utf8');
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_SYS_NICE) & 1n) === 1n;
}
