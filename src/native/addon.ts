// What the native addon (native/) offers, implemented twice: by the addon and
// by a pure-JS fallback. Both must produce identical bytes. Properties rather
// than methods, so callers can destructure them without binding.

/** Where threads run and how the process holds memory and files: the operating system's side. */
export interface SystemCalls {
  /**
   * Pins the calling OS thread (a worker_thread pins only itself) to the given CPUs.
   * Returns false when the OS refuses or pinning is unsupported; throws TypeError when
   * `cpus` is not a non-empty array of non-negative integers.
   */
  readonly pinThread: (cpus: readonly number[]) => boolean;
  /**
   * Sets the calling OS thread's nice value (-20..19; higher yields the CPU to others).
   * Returns false when the OS refuses (lowering needs privileges) or it is unsupported.
   */
  readonly setThreadNice: (nice: number) => boolean;
  /**
   * Puts the calling OS thread under SCHED_RR at `priority` (1..99; threads it starts later
   * stay ordinary), or back to ordinary scheduling (0). Null when done, else why not (the
   * OS's reason: lacking CAP_SYS_NICE, "Operation not permitted"; the fallback cannot).
   */
  readonly setThreadRealtime: (priority: number) => string | null;
  /**
   * Names the calling OS thread (what `top -H` and /proc/PID/task/TID/comm show; Linux keeps
   * 15 bytes). Returns false when unsupported; throws TypeError for an empty or non-string name.
   */
  readonly nameThread: (name: string) => boolean;
  /**
   * Takes an exclusive advisory lock (flock) on an open file without waiting: true when
   * taken, false when another open file holds it, null when this implementation cannot
   * lock (the JS fallback), so the caller must use another way.
   */
  readonly tryLockFile: (fd: number) => boolean | null;
  /**
   * Fixes glibc malloc's mmap and trim thresholds for the whole process, so large blocks
   * freed are kept for reuse rather than returned to the kernel. False when the C library is
   * not glibc, a value is refused (the mmap threshold caps at 32 MiB), or in the fallback.
   */
  readonly keepFreedMemory: (mmapThreshold: number, trimThreshold: number) => boolean;
  /**
   * Asks the kernel to drop an open file's clean cached pages (posix_fadvise DONTNEED).
   * False when refused or unsupported (always, in the fallback).
   */
  readonly dropFileCache: (fd: number) => boolean;
  /**
   * Measures the calling thread's event-loop turns into `slots` (the layout is in
   * native/src/loop-turns.cc; src/defence/turn-meter.ts reads it): each turn's busy and CPU
   * time, counts of turns by busy time against `boundsNs`, and a ring of `records` turns busy
   * at least `recordNs` with the `counts` values JavaScript added during them. Replaces the
   * thread's earlier measurement. False when the loop cannot be measured (always, in the fallback).
   */
  readonly watchLoopTurns: (slots: Float64Array, boundsNs: Float64Array, counts: number, records: number, recordNs: number) => boolean;
  /** Stops the calling thread's measurement, if any. */
  readonly unwatchLoopTurns: () => void;
}

/** Some of a block's entries, where they lie. */
export interface BlockPiece {
  /** count × 32 bytes from offset 0: the entries' hashes. */
  readonly hashes: Uint8Array;
  /** count values from index 0: where entry i ends in `contents`. */
  readonly ends: Uint32Array;
  /** At least 1. */
  readonly count: number;
  /** Where entry 0 starts in `contents`. */
  readonly contentStart: number;
  readonly contents: Uint8Array;
}

/** SHA-256 in batches, Merkle roots and block bodies: the data layer's hashing. */
export interface Hashing {
  /**
   * For i < count: SHA-256 of src[spans[2i] .. spans[2i] + spans[2i+1]) written to
   * dst[dstOffset + 32i ..]. With `from` and `to`, the spans must also lie in order inside
   * [from, to) (each starting at or after the end of the one before), as a frame walk writes
   * them. All ranges are checked first; on RangeError nothing is written.
   */
  readonly sha256Spans: (src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number, from?: number, to?: number) => void;
  /**
   * Copies src[spans[2i] .. +spans[2i+1]) for i < count back to back into dst from
   * dstOffset and returns the bytes written. With `ends`, also writes where each entry ends in
   * dst (absolute) into ends[endsAt + i]. All ranges are checked first; on RangeError nothing
   * is written.
   */
  readonly gatherSpans: (src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number, ends?: Uint32Array, endsAt?: number) => number;
  /**
   * Copies src[srcOffset .. +length) to dst from dstOffset (memmove: the views may overlap).
   * For shared memory, where TypedArray#set copies byte by byte unless both sides are equally
   * aligned. Both ranges are checked first; on RangeError nothing is written.
   */
  readonly copyBytes: (src: Uint8Array, srcOffset: number, length: number, dst: Uint8Array, dstOffset: number) => void;
  /**
   * RFC 6962 / RFC 9162 section 2.1 Merkle tree hash whose n leaves' data are the
   * consecutive 32-byte hashes in entryHashes (leaf = H(0x00 ‖ hash), node = H(0x01 ‖ l ‖ r)).
   * n = 0 gives SHA-256 of the empty string.
   */
  readonly merkleRoot: (entryHashes: Uint8Array, n: number) => Buffer;
  /**
   * One entry block's record body (src/ledger/records.ts): ⌈count/chunkLeaves⌉ chunk roots ‖
   * count hashes ‖ count content ends (u32 big-endian, from the block's first content byte) ‖
   * the contents, written into dst, which must be exactly that long; returns the block's Merkle
   * root. The block's entries are the pieces' entries in order (a block held in several places is
   * written straight from them); chunkLeaves is a power of two. Checked first; on an error
   * nothing is written.
   */
  readonly blockBody: (pieces: readonly BlockPiece[], chunkLeaves: number, dst: Uint8Array) => Buffer;
  readonly sha256: (data: Uint8Array) => Buffer;
}

/** The whole addon: both faces. */
export type NativeAddon = Hashing & SystemCalls;
