// What lmdb-js reports when a commit fails, turned into an error that names
// the cause. lmdb-js rejects the commit's promise with a bare "Commit failed
// (see commitError for details)" whose `commitError` is a second promise,
// rejected with the real error (errno or MDB code) once its write thread
// reports. It also rejects internal promises nobody holds (the event-turn
// batch's); a thread that seals must treat those as expected (isLmdbCommitFailure).
import { constants } from 'node:os';
import type { RootDatabase } from 'lmdb';
import { StoreWriteError } from './errors.js';

/** The message lmdb-js gives every promise of a failed commit. */
const LMDB_COMMIT_FAILED = 'Commit failed (see commitError for details)';

/** How long to wait for lmdb-js to hand over the real error of a failed commit; it comes in the same callback, in practice. */
const COMMIT_ERROR_WAIT_MS = 2_000;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, code]) => [code, name]));

/** lmdb-js's rejection of a failed commit (the seal that owned it reports the cause). */
export function isLmdbCommitFailure(reason: unknown): reason is Error & { commitError?: unknown } {
  return reason instanceof Error && reason.message === LMDB_COMMIT_FAILED;
}

/**
 * The error a failed seal transaction should report: lmdb-js's real cause
 * when it is a failed commit, the error itself otherwise (a throw inside the
 * transaction, a refused seal).
 */
export async function commitFailureOf(error: unknown): Promise<Error> {
  if (!isLmdbCommitFailure(error)) return error instanceof Error ? error : new Error(String(error));
  const pending = error.commitError;
  if (!isThenable(pending)) return new StoreWriteError('the store commit failed (lmdb gave no cause)');
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), COMMIT_ERROR_WAIT_MS);
  });
  try {
    // Handled here, so lmdb-js's rejection of it is never an unhandled one.
    const outcome = await Promise.race([Promise.resolve(pending).then(() => 'resolved' as const), gaveUp]);
    return new StoreWriteError(`the store commit failed (lmdb gave no cause${outcome === 'timeout' ? ` within ${COMMIT_ERROR_WAIT_MS} ms` : ''})`);
  } catch (cause) {
    return new StoreWriteError(`the store commit failed: ${describeStoreError(cause)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An lmdb or system error as "EIO: Input/output error" or "MDB_MAP_FULL: …":
 * lmdb-js gives errno failures only their strerror text and a numeric code.
 */
export function describeStoreError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const name = typeof code === 'number' ? ERRNO_NAMES.get(code) : typeof code === 'string' ? code : undefined;
  if (name === undefined || error.message.startsWith(name)) return error.message;
  return `${name}: ${error.message}`;
}

/** lmdb's MDB_PANIC: a failed meta page write left the environment unusable in this process. */
export function isStorePanic(error: unknown): boolean {
  return error instanceof Error && /MDB_PANIC/.test(error.message);
}

// RootDatabase.sync exists in lmdb-js (mdb_env_sync with force, on a worker) but is not in its typings.
interface SyncableRoot {
  sync(callback: (error?: unknown) => void): void;
}

/** Forces the environment's written pages to disk (fdatasync); rejects with the cause. */
export function syncEnvironment(root: RootDatabase): Promise<void> {
  const syncable = root as unknown as Partial<SyncableRoot>;
  if (typeof syncable.sync !== 'function') return Promise.reject(new StoreWriteError('this lmdb-js has no RootDatabase.sync'));
  const sync = syncable.sync.bind(root);
  return new Promise((resolve, reject) => {
    sync((error?: unknown) => {
      if (error === undefined || error === null) resolve();
      else reject(new StoreWriteError(`the store sync failed: ${describeStoreError(error)}`));
    });
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
