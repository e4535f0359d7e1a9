// etcd's ownership, mirrored into HAProxy (DESIGN.md "Fleet": "chainlanes
// fleet mirrors etcd's ownership into the map"). At start, and after any
// failure, the whole map is replaced atomically from the table; in between,
// each change is one set-else-add or del, sent in order. The map file follows
// (HAProxy loads it when it restarts), written whole at most once per
// `fileEveryMs`. A stale route costs a client one `moved`, never a wrong write:
// the gateways' gates decide admission, HAProxy only saves a hop.
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { type HaproxyRuntime, writeMapFile } from './haproxy.js';
import type { OwnershipTable } from './ownership.js';

export interface HaproxyMirrorOptions {
  /** The map as HAProxy names it (the path in its configuration). */
  map: string;
  /** The map file to keep in step (usually the same path). */
  mapFile: string;
  fileEveryMs: number;
  /** More changes than this waiting: one atomic replacement instead of one command each. */
  replaceAbove: number;
  retryMs: number;
}

export const DEFAULT_MIRROR_TIMING = { fileEveryMs: 1_000, replaceAbove: 500, retryMs: 1_000 } as const;

export class HaproxyMirror {
  /** Chain → owner (null: remove), changes not yet sent. */
  private readonly pending = new Map<string, string | null>();
  private fullSync = true;
  private flushQueued = false;
  private flushing: Promise<void> | null = null;
  private fileDirty = true;
  private lastFileAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Entries HAProxy was told, changes and replacements, for status and tests. */
  sent = { changes: 0, replacements: 0, files: 0, failures: 0 };
  lastError: string | null = null;

  constructor(
    private readonly runtime: HaproxyRuntime,
    private readonly table: OwnershipTable,
    private readonly options: HaproxyMirrorOptions,
    private readonly log: Logger,
  ) {
    table.listen({
      put: (chain, entry, previous) => {
        if (previous?.value.gateway !== entry.value.gateway) this.change(chain, entry.value.gateway);
      },
      delete: (chain) => this.change(chain, null),
    });
  }

  /** Starts mirroring: the first flush replaces the whole map. Never throws: failures are retried and logged. */
  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.retryMs);
    this.timer.unref();
    void this.flush();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** Resolves when everything known now has been sent to HAProxy and the file (or a failure was recorded). */
  async settle(): Promise<void> {
    await this.flush(true);
  }

  private change(chain: string, owner: string | null): void {
    this.pending.set(chain, owner);
    this.fileDirty = true;
    if (this.pending.size > this.options.replaceAbove) this.fullSync = true;
    // A burst of changes (a listing of every chain) asks for one flush, not one each.
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  private flush(forceFile = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    // The file follows the table whatever HAProxy's state: a HAProxy that restarts loads it.
    const run = async (): Promise<void> => {
      try {
        await this.sendChanges();
      } catch (error) {
        this.fullSync = true; // HAProxy may hold anything now: replace it whole on the next try
        this.failed('HAProxy map not updated', error);
      }
      try {
        this.writeFile(forceFile);
      } catch (error) {
        this.failed(`map file ${this.options.mapFile} not written`, error);
      }
    };
    // One flush at a time; one more queued behind it picks up what arrived meanwhile.
    const next = (this.flushing ?? Promise.resolve()).then(run);
    this.flushing = next.finally(() => {
      if (this.flushing === next) this.flushing = null;
    });
    return next;
  }

  private failed(what: string, error: unknown): void {
    this.sent.failures++;
    const message = `${what} (${errorMessage(error)}); retrying`;
    if (this.lastError !== message) this.log.warn({ event: 'fleet-haproxy', error: errorMessage(error) }, message);
    this.lastError = message;
  }

  private entries(): Iterable<readonly [string, string]> {
    const table = this.table;
    return (function* () {
      for (const [chain, entry] of table.entries) yield [chain, entry.value.gateway] as const;
    })();
  }

  private async sendChanges(): Promise<void> {
    if (this.fullSync) {
      this.pending.clear();
      this.fullSync = false;
      await this.runtime.replaceMap(this.options.map, this.entries());
      this.sent.replacements++;
      this.lastError = null;
      return;
    }
    while (this.pending.size > 0) {
      const [chain, owner] = this.pending.entries().next().value as [string, string | null];
      this.pending.delete(chain);
      try {
        if (owner === null) await this.runtime.deleteMap(this.options.map, chain);
        else await this.runtime.setMap(this.options.map, chain, owner);
      } catch (error) {
        this.pending.set(chain, owner);
        throw error;
      }
      this.sent.changes++;
    }
    this.lastError = null;
  }

  private writeFile(force: boolean): void {
    if (!this.fileDirty) return;
    const wait = this.lastFileAt + this.options.fileEveryMs - Date.now();
    if (!force && wait > 0) return; // the interval timer comes back for it
    this.fileDirty = false;
    try {
      writeMapFile(this.options.mapFile, this.entries());
      this.lastFileAt = Date.now();
      this.sent.files++;
    } catch (error) {
      this.fileDirty = true;
      throw error;
    }
  }
}
