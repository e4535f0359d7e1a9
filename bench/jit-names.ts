// Names the JavaScript in callgrind's output. Under valgrind, code V8 compiled
// at run time has no symbol: callgrind_annotate prints it as `???:0x…`. Node
// started with --perf-basic-prof writes /tmp/perf-PID.map, one line per piece
// of JIT code ("START SIZE NAME", hex), and `--cost --profile DIR` keeps that
// map beside the dumps. This rewrites each such address to its function:
//
//   callgrind_annotate --inclusive=yes DIR/cg.PID.2-01 | node dist/bench/jit-names.js DIR/perf-PID.map
//
// A name starts with `*` for TurboFan's code, `^` for Sparkplug's, `~` for the
// interpreter's (V8's own marks).
import { readFileSync } from 'node:fs';
import { isMain } from './peers/common.js';

interface JitCode {
  start: bigint;
  end: bigint;
  name: string;
}

/** The map's entries, sorted by start address; lines that are not "HEX HEX NAME" are skipped. */
export function parsePerfMap(text: string): JitCode[] {
  const codes: JitCode[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/i.exec(line);
    if (match === null) continue;
    const start = BigInt(`0x${match[1]!}`);
    codes.push({ start, end: start + BigInt(`0x${match[2]!}`), name: match[3]! });
  }
  return codes.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** The code holding `address`, by binary search; V8 reuses addresses, and the map keeps every use: the last one wins. */
export function codeAt(codes: readonly JitCode[], address: bigint): JitCode | undefined {
  let low = 0;
  let high = codes.length - 1;
  let found: JitCode | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codes[middle]!.start <= address) {
      found = codes[middle];
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found !== undefined && address < found.end ? found : undefined;
}

/** callgrind_annotate's `???:0x… [???]` (with an optional call count between) as `JIT name`. */
export function nameJitCode(annotated: string, codes: readonly JitCode[]): string {
  return annotated.replace(/\?\?\?:0x([0-9a-f]+)( \([0-9,]+x\))? \[\?\?\?\]/g, (unnamed, hex: string, calls: string | undefined) => {
    const code = codeAt(codes, BigInt(`0x${hex}`));
    return code === undefined ? unnamed : `JIT ${code.name}${calls ?? ''}`;
  });
}

function main(): void {
  const mapFile = process.argv[2];
  if (mapFile === undefined) {
    console.error('usage: callgrind_annotate … | node dist/bench/jit-names.js DIR/perf-PID.map');
    process.exit(2);
  }
  const codes = parsePerfMap(readFileSync(mapFile, 'utf8'));
  process.stdout.write(nameJitCode(readFileSync(0, 'utf8'), codes));
}

if (isMain(import.meta.url)) main();
