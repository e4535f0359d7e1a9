// CPU and memory accounting read from /proc, so every gateway is charged the
// same way whatever it runs on (threads, native code): utime + stime, and the
// resident set, of the whole process.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc times (`getconf CLK_TCK`, 100 on Linux in practice). */
export function clockTicks(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** User + system CPU seconds `pid` has used so far, or undefined when /proc cannot tell. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return cpuSecondsOfStat(stat);
}

/** User and system CPU seconds. */
export interface CpuTimes {
  user: number;
  system: number;
}

/** utime and stime of a /proc/…/stat line, in seconds. */
function cpuTimesOfStat(stat: string): CpuTimes | undefined {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 of proc(5), the 12th after the name
  const stime = Number(fields[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { user: utime / clockTicks(), system: stime / clockTicks() };
}

/** utime + stime of a /proc/…/stat line, in seconds. */
function cpuSecondsOfStat(stat: string): number | undefined {
  const times = cpuTimesOfStat(stat);
  return times === undefined ? undefined : times.user + times.system;
}

/** The user and system CPU of `pid`'s thread named `name` (its main thread without one), or undefined when /proc cannot tell. */
export function threadCpuTimes(pid: number, name?: string): CpuTimes | undefined {
  try {
    const tid =
      name === undefined ? String(pid) : readdirSync(`/proc/${pid}/task`).find((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === name);
    return tid === undefined ? undefined : cpuTimesOfStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * User + system CPU seconds each live thread of `pid` has used so far, summed by thread name
 * (/proc/PID/task/TID/stat; the gateway names its threads, src/native/thread-names.ts), or
 * undefined when /proc cannot tell. A thread that has exited is no longer counted.
 */
export function threadCpuSeconds(pid: number): Map<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const byName = new Map<string, number>();
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // exited between the listing and the read
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const seconds = cpuSecondsOfStat(stat);
    if (seconds !== undefined) byName.set(name, (byName.get(name) ?? 0) + seconds);
  }
  return byName;
}

/** Resident memory of a process in bytes (/proc/PID/status), as the kernel counts it. */
export interface ProcessMemory {
  /** VmRSS: what the process holds in RAM now. */
  rss: number;
  /**
   * VmHWM: the kernel's high-water mark of VmRSS, which also sees peaks between
   * two samples. It is updated lazily, so it may read a little below an
   * earlier VmRSS: take the larger of the two.
   */
  peakRss: number;
  /** RssAnon: heap, stacks, SharedArrayBuffers. */
  anon: number;
  /** RssFile: mapped files (code, lmdb's map) that are in RAM. */
  file: number;
  shmem: number;
}

/** The memory of `pid` now, or undefined once it is gone (or off Linux). */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kB = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const memory = { rss: kB('VmRSS'), peakRss: kB('VmHWM'), anon: kB('RssAnon'), file: kB('RssFile'), shmem: kB('RssShmem') };
  return Number.isFinite(memory.rss) ? memory : undefined;
}

export interface MachineInfo {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the bench started: other work on the box skews every number. */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
