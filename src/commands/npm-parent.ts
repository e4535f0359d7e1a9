// A gateway started by npm stops when that npm process is gone
// (commands/serve.ts): watched through /proc, where a look that cannot be
// made (no descriptor left to open the file with) is not an answer.
import { readFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';

/** How often a gateway started through npm looks whether npm is still there. */
const PARENT_WATCH_MS = 1_000;

/**
 * Started by npm (`npm start`, `npx chainlanes serve`), the gateway runs under
 * npm, often through a shell. npm passes SIGINT and SIGTERM on, but killed
 * otherwise (SIGKILL, a closed terminal) it left the gateway running,
 * reparented, holding the port. So the gateway stops as if signalled once
 * that npm process is gone. Under a supervisor (systemd) or a plain shell it
 * does not watch: there a parent's end is not a request to stop.
 */
export function stopWithNpm(log: Logger, stop: (why: string) => void): void {
  if (process.env.npm_lifecycle_event === undefined && process.env.npm_command === undefined) return;
  const npm = npmAncestor();
  if (npm === null) return;
  const watch = setInterval(() => {
    const stat = processStat(npm.pid);
    // Out of descriptors (a flood of idle sockets) /proc cannot be read: that says nothing of npm.
    if (stat === 'unreadable' || stat?.startTime === npm.startTime) return;
    clearInterval(watch);
    log.warn({ event: 'parent-gone', parent: npm.pid }, `npm (pid ${npm.pid}), which started the gateway, is gone`);
    stop('npm gone');
  }, PARENT_WATCH_MS);
  watch.unref();
}

/** How far up npm may be: npm → sh -c → node. */
const NPM_SEARCH_DEPTH = 3;

/** The npm process above this one (Linux /proc), with its start time so a reused pid is not taken for it. */
function npmAncestor(): { pid: number; startTime: string } | null {
  let pid = process.ppid;
  for (let depth = 0; depth < NPM_SEARCH_DEPTH && pid > 1; depth++) {
    const stat = processStat(pid);
    if (stat === null || stat === 'unreadable') return null;
    if (/(^|[/\0 ])(npm|npx)([ \0]|-cli\.js|$)/.test(commandLine(pid))) return { pid, startTime: stat.startTime };
    pid = stat.parent;
  }
  return null;
}

/**
 * A process's parent and start time from /proc; null when there is no such
 * process, 'unreadable' when the file could not be read for another reason
 * (EMFILE above all).
 */
export function processStat(pid: number): { parent: number; startTime: string } | null | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? null : 'unreadable';
  }
  // The fields after the command name (which may hold spaces and parentheses): state, ppid (field 4 of proc(5)), …, starttime (field 22).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { parent: Number(fields[1]), startTime: fields[19] ?? '' };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
