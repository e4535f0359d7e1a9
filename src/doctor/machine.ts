// What `chainlanes doctor` sees on this machine: read-only looks, except the
// disk check, which writes a scratch file in the data directory (bounded in
// time and bytes) and removes it.
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** A kernel CPU list ("1-3,6") as core numbers. */
export function parseCpuList(text: string): number[] {
  const cores: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let core = from; core <= (to ?? from); core++) cores.push(core);
  }
  return cores;
}

/** Core numbers as a kernel CPU list, runs joined: [1,2,3,6] → "1-3,6". */
export function formatCpuList(cores: readonly number[]): string {
  const sorted = [...new Set(cores)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i]!;
    while (i + 1 < sorted.length && sorted[i + 1] === sorted[i]! + 1) i++;
    runs.push(start === sorted[i] ? String(start) : `${start}-${sorted[i]}`);
  }
  return runs.join(',');
}

function readOr(path: string, fallback: string | null): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

export interface CpuView {
  count: number;
  /** Cores the kernel keeps from the general scheduler (isolcpus), from /sys/devices/system/cpu/isolated; null where it cannot be read. */
  isolated: number[] | null;
  /** cpu0's frequency governor, or null where there is none (VMs, containers). */
  governor: string | null;
}

export function cpuView(): CpuView {
  const isolated = readOr('/sys/devices/system/cpu/isolated', null);
  return {
    count: availableParallelism(),
    isolated: isolated === null ? null : parseCpuList(isolated),
    governor: readOr('/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor', null),
  };
}

export function memoryView(): { totalBytes: number; freeBytes: number } {
  return { totalBytes: totalmem(), freeBytes: freemem() };
}

export interface DiskView {
  dataDir: string;
  /** The data directory's device is the root file system's. */
  sharesRootDevice: boolean;
  /** 4 KiB writes each followed by fdatasync: what one seal's commit costs at least. */
  syncedWrites: number;
  syncedWriteMs: number;
  /** 1 MiB writes, fdatasync every 8 MiB. */
  sequentialMiBPerSec: number;
  seconds: number;
}

const SMALL_WRITE = 4096;
const LARGE_WRITE = 1024 * 1024;
const LARGE_PER_SYNC = 8;
/** Caps besides the time bound, so a very fast disk is not filled either. */
const MAX_SYNCED_WRITES = 10_000;
const MAX_SEQUENTIAL_BYTES = 256 * 1024 * 1024;

/** Measures the data directory's disk for at most `seconds` (half synced small writes, half sequential). */
export function diskView(dataDir: string, seconds: number): DiskView {
  mkdirSync(dataDir, { recursive: true });
  const scratch = join(dataDir, `.chainlanes-doctor-${process.pid}`);
  const fd = openSync(scratch, 'w');
  const started = performance.now();
  try {
    const small = Buffer.alloc(SMALL_WRITE, 0x5a);
    const half = (seconds * 1000) / 2;
    let syncedWrites = 0;
    let deadline = performance.now() + half;
    while (performance.now() < deadline && syncedWrites < MAX_SYNCED_WRITES) {
      writeSync(fd, small, 0, SMALL_WRITE, 0);
      fdatasyncSync(fd);
      syncedWrites++;
    }
    const syncedMs = performance.now() - started;
    const large = Buffer.alloc(LARGE_WRITE, 0xa5);
    let written = 0;
    const sequentialStart = performance.now();
    deadline = sequentialStart + half;
    while (performance.now() < deadline && written < MAX_SEQUENTIAL_BYTES) {
      for (let i = 0; i < LARGE_PER_SYNC; i++) written += writeSync(fd, large, 0, LARGE_WRITE, written);
      fdatasyncSync(fd);
    }
    const sequentialSec = (performance.now() - sequentialStart) / 1000;
    return {
      dataDir,
      sharesRootDevice: statSync(dataDir).dev === statSync('/').dev,
      syncedWrites,
      syncedWriteMs: syncedMs / Math.max(1, syncedWrites),
      sequentialMiBPerSec: written / LARGE_WRITE / sequentialSec,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    closeSync(fd);
    unlinkSync(scratch);
  }
}
