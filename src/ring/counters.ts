// Per-worker load counters. Every lane worker owns one row and is its only
// writer, so counting costs a plain Atomics.store per frame instead of a
// contended Atomics.add that every worker would fight over for the same cache
// line. The scheduler sums the rows each tick and takes differences between
// ticks; the cells are u32 and wrap, so differences are taken modulo 2^32.
//
// Layout (Uint32Array over one SharedArrayBuffer):
//   line 0                  [0] = next worker slot to hand out
//   one 128-byte line per worker slot: lane, busy µs, tasks, entries
//   one row per worker slot: maxChains × (entries, bytes), padded to 128 bytes

const LINE = 32; // u32 per 128-byte line
const BUSY_LANE = 0;
const BUSY_MICROS = 1;
const BUSY_TASKS = 2;

export class LoadCounters {
  readonly sab: SharedArrayBuffer;
  readonly maxChains: number;
  readonly workerSlots: number;
  private readonly cells: Uint32Array;
  private readonly header: Int32Array;
  private readonly rowInts: number;
  private readonly rowsStart: number;

  constructor(sab: SharedArrayBuffer, maxChains: number, workerSlots: number) {
    this.sab = sab;
    this.maxChains = maxChains;
    this.workerSlots = workerSlots;
    this.cells = new Uint32Array(sab);
    this.header = new Int32Array(sab, 0, LINE);
    this.rowInts = Math.ceil((maxChains * 2) / LINE) * LINE;
    this.rowsStart = LINE + workerSlots * LINE;
  }

  static allocate(maxChains: number, workerSlots: number): LoadCounters {
    const rowInts = Math.ceil((maxChains * 2) / LINE) * LINE;
    const ints = LINE + workerSlots * LINE + workerSlots * rowInts;
    return new LoadCounters(new SharedArrayBuffer(ints * 4), maxChains, workerSlots);
  }

  /**
   * A worker's row for its lifetime. Slots are handed out round-robin: after
   * `workerSlots` worker (re)starts two live workers could share one row and
   * lose a few counts to each other's writes. Counts are load estimates, and
   * workers are only restarted after a crash, so that is accepted.
   */
  claimSlot(lane: number): number {
    const slot = Atomics.add(this.header, 0, 1) % this.workerSlots;
    Atomics.store(this.cells, this.busyAt(slot) + BUSY_LANE, lane);
    return slot;
  }

  /** How many slots have been handed out (bounded by workerSlots). */
  slotsInUse(): number {
    return Math.min(Atomics.load(this.header, 0), this.workerSlots);
  }

  /** Worker only: counts one frame's entries and bytes for a chain. */
  count(slot: number, chainSlot: number, entries: number, bytes: number): void {
    const at = this.rowsStart + slot * this.rowInts + chainSlot * 2;
    Atomics.store(this.cells, at, (this.cells[at]! + entries) >>> 0);
    Atomics.store(this.cells, at + 1, (this.cells[at + 1]! + bytes) >>> 0);
  }

  /** Worker only: adds one task's busy time. */
  addBusy(slot: number, micros: number): void {
    const at = this.busyAt(slot);
    Atomics.store(this.cells, at + BUSY_MICROS, (this.cells[at + BUSY_MICROS]! + micros) >>> 0);
    Atomics.store(this.cells, at + BUSY_TASKS, (this.cells[at + BUSY_TASKS]! + 1) >>> 0);
  }

  entries(slot: number, chainSlot: number): number {
    return Atomics.load(this.cells, this.rowsStart + slot * this.rowInts + chainSlot * 2);
  }

  bytes(slot: number, chainSlot: number): number {
    return Atomics.load(this.cells, this.rowsStart + slot * this.rowInts + chainSlot * 2 + 1);
  }

  laneOf(slot: number): number { return Atomics.load(this.cells, this.busyAt(slot) + BUSY_LANE); }
  busyMicros(slot: number): number { return Atomics.load(this.cells, this.busyAt(slot) + BUSY_MICROS); }
  tasks(slot: number): number { return Atomics.load(this.cells, this.busyAt(slot) + BUSY_TASKS); }

  private busyAt(slot: number): number {
    return LINE + slot * LINE;
  }
}
