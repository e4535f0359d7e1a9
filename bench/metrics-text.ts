// The one reader of Prometheus text exposition (version 0.0.4) for the tests
// and the bench: what GET /metrics answers, parsed into families and samples.
// Strict: a line that is not a comment, a blank or a sample is an error, so a
// test that scrapes also checks the exposition is well formed. It imports
// nothing from vitest, so the compiled bench (dist/bench) uses it as the tests do.

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** A histogram's series for one set of labels (other than `le`): buckets in the order given, `le` → cumulative count. */
export interface HistogramSeries {
  labels: Readonly<Record<string, string>>;
  buckets: [le: number, count: number][];
  sum: number;
  count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPE = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/;

export class MetricsText {
  /** Family name and its `# TYPE`, in order of appearance (a family typed twice appears twice). */
  readonly types: readonly [family: string, type: string][];
  readonly samples: readonly Sample[];

  private constructor(types: [string, string][], samples: Sample[]) {
    this.types = types;
    this.samples = samples;
  }

  /** Parses an exposition; throws naming the first line that is not one. */
  static parse(text: string): MetricsText {
    const types: [string, string][] = [];
    const samples: Sample[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '' || line.startsWith('# HELP ')) continue;
      if (line.startsWith('#')) {
        const type = TYPE.exec(line);
        if (type !== null) types.push([type[1]!, type[2]!]);
        else if (line.startsWith('# TYPE')) throw new Error(`not a Prometheus TYPE line: ${JSON.stringify(line)}`);
        continue;
      }
      samples.push(parseSample(line));
    }
    return new MetricsText(types, samples);
  }

  typeOf(family: string): string | undefined {
    return this.types.find(([name]) => name === family)?.[1];
  }

  /** Every sample of `name` whose labels include `labels`. */
  series(name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The value of the one sample of `name` with `labels`; throws when there is none or more than one. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    const found = this.series(name, labels);
    if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${labelText(labels)}, not 1`);
    return found[0]!.value;
  }

  /** The value of the one sample of `name` with `labels`, or undefined when there is none (a series not yet created). */
  valueOrUndefined(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    return this.series(name, labels).length === 0 ? undefined : this.value(name, labels);
  }

  /** The sum over every sample of `name` whose labels include `labels` (0 when there is none). */
  sum(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.series(name, labels).reduce((total, s) => total + s.value, 0);
  }

  /** A histogram family's series, keyed by their labels other than `le` (as JSON, sorted). */
  histogram(family: string): Map<string, HistogramSeries> {
    const out = new Map<string, HistogramSeries>();
    const seriesOf = (labels: Readonly<Record<string, string>>): HistogramSeries => {
      const rest = Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le'));
      const key = JSON.stringify(Object.entries(rest).sort());
      let found = out.get(key);
      if (found === undefined) {
        found = { labels: rest, buckets: [], sum: NaN, count: NaN };
        out.set(key, found);
      }
      return found;
    };
    for (const s of this.samples) {
      if (s.name === `${family}_bucket`) {
        if (s.labels.le === undefined) throw new Error(`${family}_bucket${labelText(s.labels)} has no le label`);
        seriesOf(s.labels).buckets.push([parseValue(s.labels.le), s.value]);
      } else if (s.name === `${family}_sum`) seriesOf(s.labels).sum = s.value;
      else if (s.name === `${family}_count`) seriesOf(s.labels).count = s.value;
    }
    return out;
  }
}

function parseSample(line: string): Sample {
  const m = SAMPLE.exec(line);
  if (m === null) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
  const value = parseValue(m[3]!);
  if (Number.isNaN(value) && !/^nan$/i.test(m[3]!)) throw new Error(`bad value in ${JSON.stringify(line)}`);
  return { name: m[1]!, labels: parseLabels(m[2] ?? '', line), value };
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (m === null || m.index !== at) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (m[3] === '') break;
  }
  return labels;
}

/**
 * A sample value or an `le` bound: a number, NaN, +Inf or -Inf, the special
 * values in any case as Prometheus reads them (prom-client writes "Nan").
 */
function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  return text.trim() === '' ? NaN : Number(text);
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}
