// Which CPU cores each lane's workers are pinned to. The scheduler thread
// writes a lane's set and then bumps its generation; a worker compares the
// generation with the one it last pinned to at the start of every task and
// re-pins when it moved. One 128-byte line per lane: [generation, mask × 8].

const LINE = 32;
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
    return new LaneCores(new SharedArrayBuffer(lanes * LINE * 4));
  }

  generation(lane: number): number {
    return Atomics.load(this.cells, lane * LINE);
  }

  cores(lane: number): number[] {
    const out: number[] = [];
    for (let w = 0; w < MASK_WORDS; w++) {
      const bits = Atomics.load(this.cells, lane * LINE + 1 + w);
      for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) out.push(w * 32 + b);
    }
    return out;
  }

  /** Scheduler only. The generation is bumped after the mask so a reader that sees it sees the mask. */
  set(lane: number, cores: readonly number[]): void {
    const words = new Int32Array(MASK_WORDS);
    for (const c of cores) {
      if (!Number.isInteger(c) || c < 0 || c >= MAX_CPUS) throw new RangeError(`core ${c} out of range 0..${MAX_CPUS - 1}`);
      words[c >>> 5]! |= 1 << (c & 31);
    }
    for (let w = 0; w < MASK_WORDS; w++) Atomics.store(this.cells, lane * LINE + 1 + w, words[w]!);
    Atomics.add(this.cells, lane * LINE, 1);
  }
}
