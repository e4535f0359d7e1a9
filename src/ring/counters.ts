// Per-worker load counters. Every lane worker owns one row and is its only
// writer, so counting costs a plain Atomics.store per frame instead of a
// contended Atomics.add that every worker would fight over for the same cache
// line (bench/micro/counters.ts measures the difference).
//
// Layout (Uint32Array over one SharedArrayBuffer):
//   line 0                     next slot   the next worker slot to hand out
//   one line per worker slot   busy        lane, busy µs, tasks
//   then per worker slot       row         maxChains × (entries, bytes), packed,
//                                          padded to whole lines
//
//   next slot  Atomics.add by whoever claims a slot: each lane worker when it
//              starts, and the front door once per lane for the frames it
//              hashes itself. Contended, but only at (re)starts.
//   busy       lane written by the claimer in claimSlot; busy µs and tasks by
//              the slot's worker after each task. Read by the scheduler.
//   row        written by the slot's worker after each frame, read by the
//              scheduler every tick.
//
// Every count is a u32 that wraps: readers may assume only that it counts up,
// and take differences between two loads with seqDistance. Each busy line and
// row has one writer, which reads its own cells back with plain loads; other
// threads use Atomics.load.
import * as layout from './layout.js';

// Module consts, not imports: count runs on every frame, addBusy on every task (see layout.ts).
const { LINE_CELLS, seqAdd, wholeLines } = layout;

const NEXT_SLOT_CELL = 0;
const BUSY_LANE = 0;
const BUSY_MICROS = 1;
const BUSY_TASKS = 2;

export class LoadCounters {
  readonly sab: SharedArrayBuffer;
  readonly maxChains: number;
  readonly workerSlots: number;
  private readonly cells: Uint32Array;
  private readonly header: Int32Array;
  private readonly rowCells: number;
  private readonly rowsStart: number;

  constructor(sab: SharedArrayBuffer, maxChains: number, workerSlots: number) {
    this.sab = sab;
    this.maxChains = maxChains;
    this.workerSlots = workerSlots;
    this.cells = new Uint32Array(sab);
    this.header = new Int32Array(sab, 0, LINE_CELLS);
    this.rowCells = rowCellsFor(maxChains);
    this.rowsStart = LINE_CELLS + workerSlots * LINE_CELLS;
  }

  static allocate(maxChains: number, workerSlots: number): LoadCounters {
    const cells = LINE_CELLS + workerSlots * LINE_CELLS + workerSlots * rowCellsFor(maxChains);
    return new LoadCounters(new SharedArrayBuffer(cells * Uint32Array.BYTES_PER_ELEMENT), maxChains, workerSlots);
  }

  /**
   * A worker's row for its lifetime. Slots are handed out round-robin: after
   * `workerSlots` worker (re)starts two live workers could share one row and
   * lose a few counts to each other's writes. Counts are load estimates, and
   * workers are only restarted after a crash, so that is accepted.
   */
  claimSlot(lane: number): number {
    const slot = Atomics.add(this.header, NEXT_SLOT_CELL, 1) % this.workerSlots;
    Atomics.store(this.cells, this.busyAt(slot) + BUSY_LANE, lane);
    return slot;
  }

  /** How many slots have been handed out (bounded by workerSlots). */
  slotsInUse(): number {
    return Math.min(Atomics.load(this.header, NEXT_SLOT_CELL), this.workerSlots);
  }

  /** Worker only: counts one frame's entries and bytes for a chain. */
  count(slot: number, chainSlot: number, entries: number, bytes: number): void {
    const at = this.rowsStart + slot * this.rowCells + chainSlot * 2;
    Atomics.store(this.cells, at, seqAdd(this.cells[at]!, entries));
    Atomics.store(this.cells, at + 1, seqAdd(this.cells[at + 1]!, bytes));
  }

  /** Worker only: adds one task's busy time. */
  addBusy(slot: number, micros: number): void {
    const at = this.busyAt(slot);
    Atomics.store(this.cells, at + BUSY_MICROS, seqAdd(this.cells[at + BUSY_MICROS]!, micros));
    Atomics.store(this.cells, at + BUSY_TASKS, seqAdd(this.cells[at + BUSY_TASKS]!, 1));
  }

  entries(slot: number, chainSlot: number): number {
    return Atomics.load(this.cells, this.rowsStart + slot * this.rowCells + chainSlot * 2);
  }

  bytes(slot: number, chainSlot: number): number {
    return Atomics.load(this.cells, this.rowsStart + slot * this.rowCells + chainSlot * 2 + 1);
  }

  laneOf(slot: number): number {
    return Atomics.load(this.cells, this.busyAt(slot) + BUSY_LANE);
  }
  busyMicros(slot: number): number {
    return Atomics.load(this.cells, this.busyAt(slot) + BUSY_MICROS);
  }
  tasks(slot: number): number {
    return Atomics.load(this.cells, this.busyAt(slot) + BUSY_TASKS);
  }

  private busyAt(slot: number): number {
    return LINE_CELLS + slot * LINE_CELLS;
  }
}

/** Cells of one worker's row: an (entries, bytes) pair per chain, padded to whole lines. */
function rowCellsFor(maxChains: number): number {
  return wholeLines(maxChains * 2 * Uint32Array.BYTES_PER_ELEMENT) / Uint32Array.BYTES_PER_ELEMENT;
}
