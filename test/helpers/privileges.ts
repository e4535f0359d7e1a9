// What this test process may do to the scheduler (the gateway's own check),
// and how to run a command without that privilege.
export { mayRunRealtime } from '../../src/native/index.js';

/** A launcher (StartOptions.launcher, runCli's) that runs node as root without CAP_SYS_NICE, as an unprivileged operator would. */
export const WITHOUT_SYS_NICE: readonly string[] = ['setpriv', '--inh-caps=-sys_nice', '--bounding-set=-sys_nice'];
