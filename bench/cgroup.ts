// A CPU budget for a group of the bench's own processes: a cgroup (v1) of the
// `cpu` controller whose CFS quota holds them, together, to a fraction of one
// core, as if they ran on another machine with that much to spend. The same
// group in the `cpuacct` hierarchy, when mounted, counts what they used, and
// in the `cpuset` one, when cores are named, keeps them on those cores.
//
// Groups are named chainlanes-bench-<pid of this bench>-<what>-<n>, so that
// two benches on one machine never share one, and are always removed: by
// `remove()`, and on exit (an error, Ctrl-C: bench/targets.ts turns SIGINT and
// SIGTERM into an exit) by killing what is left in them, waiting for it to go
// and removing the directories. A group left by a bench that was killed
// outright is removed by the next one if nothing runs in it any more.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CPU_ROOT = '/sys/fs/cgroup/cpu';
const CPUACCT_ROOT = '/sys/fs/cgroup/cpuacct';
const CPUSET_ROOT = '/sys/fs/cgroup/cpuset';
const PREFIX = 'chainlanes-bench-';
/**
 * The CFS period: a quota is this many µs of CPU per this many µs of time.
 * Short, so a group spends its budget in short bursts, as an attacker on
 * another machine would be felt: with 100 ms, the attack's three processes
 * spent half a core's 50 ms on both cores at once in 25 ms, and the front
 * door, pinned to one of them, waited up to 35 ms in one turn behind them
 * (bench/turn-trace.ts); the control's single busy loop cannot do that.
 */
const PERIOD_US = 10_000;
/** How long removal waits for killed processes to leave a group. */
const LEAVE_WAIT_MS = 5_000;

const live = new Set<CpuGroup>();
let counter = 0;
process.once('exit', () => {
  for (const group of live) group.removeNow();
});

/** Why CPU budgets cannot be set here, or null when they can. */
export function cpuGroupsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'cgroups are Linux only';
  if (!existsSync(join(CPU_ROOT, 'cpu.cfs_quota_us'))) return `no cgroup v1 cpu controller at ${CPU_ROOT}`;
  try {
    const probe = join(CPU_ROOT, `${PREFIX}${process.pid}-probe`);
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    return `cannot make a cgroup under ${CPU_ROOT} (${(error as NodeJS.ErrnoException).code ?? String(error)}): run as root`;
  }
  return null;
}

export class CpuGroup {
  readonly name: string;
  /** Cores' worth of CPU the group may use, together. */
  readonly cores: number;
  private readonly dirs: string[];
  private readonly acct: string | null;
  private removed = false;

  /**
   * A new group held to `cores` of a core (0 < cores ≤ the machine's), and to
   * the cores numbered in `pinned` when given. Throws when it cannot be made.
   */
  constructor(what: string, cores: number, pinned: readonly number[] | null = null) {
    if (!(cores > 0)) throw new RangeError(`a CPU budget must be more than 0 cores, got ${cores}`);
    removeStaleGroups();
    this.name = `${PREFIX}${process.pid}-${what}-${counter++}`;
    this.cores = cores;
    const cpu = join(CPU_ROOT, this.name);
    mkdirSync(cpu);
    this.dirs = [cpu];
    live.add(this);
    writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(cores * PERIOD_US)));
    this.acct = existsSync(CPUACCT_ROOT) ? join(CPUACCT_ROOT, this.name) : null;
    if (this.acct !== null) {
      mkdirSync(this.acct);
      this.dirs.push(this.acct);
    }
    if (pinned !== null) {
      if (!existsSync(CPUSET_ROOT)) throw new Error(`no cgroup v1 cpuset controller at ${CPUSET_ROOT} to keep the group on cores ${pinned.join(',')}`);
      const set = join(CPUSET_ROOT, this.name);
      mkdirSync(set);
      this.dirs.push(set);
      // Both must be set before a process may join.
      writeFileSync(join(set, 'cpuset.cpus'), pinned.join(','));
      writeFileSync(join(set, 'cpuset.mems'), readFileSync(join(CPUSET_ROOT, 'cpuset.mems'), 'utf8').trim());
    }
  }

  /** Moves process `pid` (all its threads) into the group. */
  add(pid: number): void {
    for (const dir of this.dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  /** Moves process `pid` back out of the group, into each hierarchy's root (before `removeNow`, which kills what it finds). */
  release(pid: number): void {
    for (const dir of this.dirs) writeFileSync(join(dirname(dir), 'cgroup.procs'), String(pid));
  }

  /** CPU seconds the group's processes used while in it (null without cpuacct). */
  cpuSeconds(): number | null {
    if (this.acct === null) return null;
    return Number(readFileSync(join(this.acct, 'cpuacct.usage'), 'utf8')) / 1e9;
  }

  /** Periods in which the quota ran out, and for how long the group was held back in all (s). */
  throttling(): { periods: number; throttled: number; seconds: number } {
    const stat = readFileSync(join(this.dirs[0]!, 'cpu.stat'), 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
    return { periods: field('nr_periods'), throttled: field('nr_throttled'), seconds: field('throttled_time') / 1e9 };
  }

  /** Processes in the group now. */
  pids(): number[] {
    return pidsIn(this.dirs[0]!);
  }

  /** Kills whatever is still in the group, waits for it to leave, and removes the group. */
  removeNow(): void {
    if (this.removed) return;
    this.removed = true;
    live.delete(this);
    for (const dir of this.dirs) emptyAndRemove(dir);
  }
}

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Synchronous (it also runs in an exit handler): the processes are ours, put there by this bench. */
function emptyAndRemove(dir: string): void {
  for (const pid of pidsIn(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + LEAVE_WAIT_MS;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) {
        process.stderr.write(`bench: could not remove the cgroup ${dir} (${code ?? String(error)}); remove it with rmdir once it is empty\n`);
        return;
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Groups of benches that are gone, with nothing left in them: removed. Groups with processes are left alone. */
function removeStaleGroups(): void {
  for (const root of [CPU_ROOT, CPUACCT_ROOT, CPUSET_ROOT]) {
    let names: string[];
    try {
      names = readdirSync(root).filter((n) => n.startsWith(PREFIX));
    } catch {
      continue;
    }
    for (const name of names) {
      const owner = Number(/^chainlanes-bench-(\d+)-/.exec(name)?.[1]);
      if (!Number.isInteger(owner) || owner === process.pid || alive(owner)) continue;
      if (pidsIn(join(root, name)).length > 0) continue;
      try {
        rmdirSync(join(root, name));
      } catch {
        // another bench removed it, or it is busy: left
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
