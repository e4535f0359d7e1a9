// Which CPU cores each lane's workers are pinned to.
//
// Layout (Int32Array over one SharedArrayBuffer), one line per lane:
//   cell 0       generation   bumped after every change of the lane's set
//   cells 1…8    mask         bit c of word c / 32: core c is in the set
//
//   generation  Atomics.add by the writer, after the mask.
//   mask        written with Atomics.store by the front door once at start
//               (before any thread that reads it exists), then by the
//               scheduler thread only, when it moves cores.
//
// A lane worker loads its lane's generation at the start of every task and
// re-pins only when it moved since it last pinned (the front door also reads
// the mask, for its stats). A reader that sees
// generation g sees the whole mask written before g (Atomics are sequentially
// consistent); if another set is under way it may see part of that one too,
// and the bump that follows makes it read the mask again at its next task.
import { LINE_CELLS } from './layout.js';

const GENERATION_CELL = 0;
const MASK_CELL = 1;
const MASK_WORDS = 8; // 256 CPUs
export const MAX_CPUS = MASK_WORDS * 32;

export class LaneCores {
  readonly sab: SharedArrayBuffer;
  private readonly cells: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.cells = new Int32Array(sab);
  }

  static allocate(lanes: number): LaneCores {
    return new LaneCores(new SharedArrayBuffer(lanes * LINE_CELLS * Int32Array.BYTES_PER_ELEMENT));
  }

  generation(lane: number): number {
    return Atomics.load(this.cells, lane * LINE_CELLS + GENERATION_CELL);
  }

  cores(lane: number): number[] {
    const out: number[] = [];
    for (let w = 0; w < MASK_WORDS; w++) {
      const bits = Atomics.load(this.cells, lane * LINE_CELLS + MASK_CELL + w);
      for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) out.push(w * 32 + b);
    }
    return out;
  }

  /** The scheduler only, once the gateway started. */
  set(lane: number, cores: readonly number[]): void {
    const words = new Int32Array(MASK_WORDS);
    for (const c of cores) {
      if (!Number.isInteger(c) || c < 0 || c >= MAX_CPUS) throw new RangeError(`core ${c} out of range 0..${MAX_CPUS - 1}`);
      words[c >>> 5]! |= 1 << (c & 31);
    }
    for (let w = 0; w < MASK_WORDS; w++) Atomics.store(this.cells, lane * LINE_CELLS + MASK_CELL + w, words[w]!);
    Atomics.add(this.cells, lane * LINE_CELLS + GENERATION_CELL, 1);
  }
}
