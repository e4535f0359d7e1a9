// One gateway per store. Two gateways sealing into one lmdb environment would
// both write directory block N, and one of them would fail every seal from then
// on while looking healthy. So `serve` takes the store's lock before it opens
// anything, and refuses to start, naming the holder, when it cannot.
//
// The lock is flock(2) on `<dataDir>/gateway.lock` (native addon): the kernel
// drops it when its holder exits, even by SIGKILL, and a second open() in the
// same process cannot take it either. The file also holds the holder's pid and
// start time, written after locking, only so a refusal can name the holder.
//
// Without the addon there is no flock; the file is then created exclusively and
// a leftover file is taken over only when the process it names is gone (its pid
// is not running, or is running with another start time, i.e. was reused).
// Two gateways starting at the same instant over a leftover file could both
// take it over in that mode; the addon's lock has no such window.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { system } from '../native/index.js';

export const STORE_LOCK_FILE = 'gateway.lock';

interface Holder {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null off Linux. */
  startTicks: number | null;
}

export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
}

export class StoreLock {
  private fd: number | null;
  private readonly path: string;
  private readonly removeOnRelease: boolean;

  private constructor(fd: number, path: string, removeOnRelease: boolean) {
    this.fd = fd;
    this.path = path;
    this.removeOnRelease = removeOnRelease;
  }

  /** Takes the lock of the store in `dataDir` (which must exist), or throws StoreLockedError naming the holder. */
  static acquire(dataDir: string): StoreLock {
    const path = join(dataDir, STORE_LOCK_FILE);
    const fd = openSync(path, 'a+');
    const locked = system.tryLockFile(fd);
    if (locked === null) {
      closeSync(fd);
      return StoreLock.acquireByPidFile(path);
    }
    if (!locked) {
      closeSync(fd);
      throw lockedError(dataDir, readHolder(path));
    }
    writeHolder(fd);
    // With flock the file stays: unlinking it would let a process that opened the old
    // file a moment earlier lock an unlinked inode while a third one locks a new file.
    return new StoreLock(fd, path, false);
  }

  private static acquireByPidFile(path: string): StoreLock {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeHolder(fd);
        return new StoreLock(fd, path, true);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(path);
      if (holder !== null && isRunning(holder)) throw lockedError(join(path, '..'), holder);
      unlinkSync(path);
    }
    throw new StoreLockedError(`cannot take the store lock ${path}: another gateway took it over at the same time`);
  }

  release(): void {
    if (this.fd === null) return;
    if (this.removeOnRelease) unlinkSync(this.path);
    closeSync(this.fd);
    this.fd = null;
  }
}

function writeHolder(fd: number): void {
  const holder: Holder = { pid: process.pid, startTicks: startTicksOf(process.pid) };
  ftruncateSync(fd, 0);
  writeSync(fd, JSON.stringify(holder) + '\n', 0);
}

function readHolder(path: string): Holder | null {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof holder.pid !== 'number') return null;
    return { pid: holder.pid, startTicks: typeof holder.startTicks === 'number' ? holder.startTicks : null };
  } catch {
    return null;
  }
}

function lockedError(dataDir: string, holder: Holder | null): StoreLockedError {
  const who =
    holder === null
      ? 'another gateway'
      : holder.pid === process.pid
        ? `another gateway in this process (pid ${holder.pid})`
        : `the gateway with pid ${holder.pid}`;
  return new StoreLockedError(`the store in ${dataDir} is in use by ${who}; one gateway serves a store at a time (stop it, or choose another --data)`);
}

function isRunning(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const ticks = startTicksOf(holder.pid);
  return holder.startTicks === null || ticks === null || ticks === holder.startTicks;
}

/** Field 22 of /proc/PID/stat; the command name in field 2 may hold spaces, so count from its closing parenthesis. */
function startTicksOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}
