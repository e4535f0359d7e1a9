// The sealer's doorbell and backlog: the shared memory between the front door
// and the sealer thread. Both sides import this file, and every read and write
// of these arrays goes through the functions below.
//
// Control block (Int32Array: the sealer waits on the doorbell), one slot per
// cache line:
//   line 0   doorbell      a count that only ever moves, to wake the sealer
//   line 1   pending KiB   KiB of entries the sealer holds that are not durable yet
// Chain backlog (Int32Array, one cell per chain slot, packed):
//            KiB of that chain's entries the sealer holds that are not durable yet
//
//   doorbell     written by the front door only: ringDoorbell adds one and
//                notifies. It rings when a lane's `hashed` cursor moved and
//                that ring is more than an eighth full (wiring/threads.ts,
//                ringWhenFilling); its value means nothing, only that it
//                changed. The sealer waits on it for at most DOORBELL_POLL_MS
//                and drains the rings after every wake-up, rung or not, and
//                after every message (a chain, a cut, stop). So a quiet
//                gateway never wakes the sealer per frame, and a filling ring
//                does not wait out the poll.
//   pending KiB  written by the sealer only, after each drain of the rings and
//                after each seal. A hint for admission and the metrics: it
//                lags the rings by up to one drain, and is rounded up to
//                whole KiB.
//   backlog      each cell written by the sealer only, whenever that chain's
//                entries held change (a record copied in, a block durable);
//                read by admission, with the same lag and rounding as pending
//                KiB. A chain the sealer has not heard of yet reads 0.
//
// KiB and not bytes, so an Int32 cell holds up to 2 TiB.
import { CACHE_LINE_BYTES, LINE_CELLS } from '../ring/index.js';

const DOORBELL = 0;
const PENDING_KIB = LINE_CELLS;
const CONTROL_BYTES = 2 * CACHE_LINE_BYTES;
const KIB = 1024;

/**
 * How long the sealer waits for the doorbell before it drains the rings
 * anyway. A ring is drained at every cut too, and the doorbell rings once it
 * is an eighth full, so the poll only frees ring space on a quiet gateway:
 * 250 ms and not 50, because every poll wakes the sealer thread, and on a
 * small VM each wake-up costs ~0.2 ms of a core the front door may need.
 */
export const DOORBELL_POLL_MS = 250;

export function allocateControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
}

export function allocateChainBacklog(maxChains: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(maxChains * Int32Array.BYTES_PER_ELEMENT));
}

/** Front door: wakes the sealer. */
export function ringDoorbell(control: Int32Array): void {
  Atomics.add(control, DOORBELL, 1);
  Atomics.notify(control, DOORBELL);
}

/** Sealer: what the doorbell reads now, to wait for a change from. */
export function doorbellNow(control: Int32Array): number {
  return Atomics.load(control, DOORBELL);
}

/**
 * Sealer: resolves once the doorbell moved from `seen`, or after
 * DOORBELL_POLL_MS, with what it reads then.
 */
export async function nextDoorbell(control: Int32Array, seen: number): Promise<number> {
  const waited = Atomics.waitAsync(control, DOORBELL, seen, DOORBELL_POLL_MS);
  // Rung already: still yield a whole event-loop turn, not just a microtask. A
  // front door that keeps ringing would otherwise keep the sealer in a
  // microtask loop where no message (cuts, chains), timer or lmdb completion runs.
  if (waited.async) await waited.value;
  else await new Promise((resolve) => setImmediate(resolve));
  return Atomics.load(control, DOORBELL);
}

/** Sealer: publishes the bytes of all entries it holds that are not durable yet. */
export function setPendingBytes(control: Int32Array, bytes: number): void {
  Atomics.store(control, PENDING_KIB, Math.ceil(bytes / KIB));
}

/** The bytes the sealer last published as held and not durable, rounded up to KiB. */
export function pendingBytes(control: Int32Array): number {
  return Atomics.load(control, PENDING_KIB) * KIB;
}

/** Sealer: publishes the bytes of one chain's entries it holds that are not durable yet. */
export function setChainPendingBytes(backlog: Int32Array, slot: number, bytes: number): void {
  Atomics.store(backlog, slot, Math.ceil(bytes / KIB));
}

/** The bytes the sealer last published for one chain, rounded up to KiB. */
export function chainPendingBytes(backlog: Int32Array, slot: number): number {
  return Atomics.load(backlog, slot) * KIB;
}
