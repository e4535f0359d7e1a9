// Schema building blocks that say what they allow, and the one formatter that
// turns zod's issues into refusals a person can act on:
//
//   config file /x.json: scheduler.tauMs: "abc" is not allowed: expected an integer ≥ 1 (milliseconds)
//
// Each leaf states what it allows once, in the same place as its limits, so a
// limit and its message cannot drift apart. Everything else (objects, lists,
// enums, unknown keys) is described by `allowedFor` from the issue itself.
import { z } from 'zod';

/** A refusal of settings: one readable line per problem, each naming where it came from. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** An integer in [min, max]; `unit` says what it counts. */
export function integer(min: number, max?: number, unit?: string): z.ZodInt {
  const range = max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
  const error = `an integer ${range}${unit === undefined ? '' : ` (${unit})`}`;
  const schema = z.int({ error }).min(min, { error });
  return max === undefined ? schema : schema.max(max, { error });
}

/** A finite number ≥ min (fractions allowed). */
export function atLeast(min: number, unit?: string): z.ZodNumber {
  const error = `a number ≥ ${min}${unit === undefined ? '' : ` (${unit})`}`;
  return z.number({ error }).min(min, { error });
}

/** A non-empty string; `allowed` says what it holds (a path, a host…). */
export function text(allowed: string): z.ZodString {
  return z.string({ error: allowed }).min(1, { error: allowed });
}

/** Refinements that compare fields run only on input whose fields are each valid. */
export const WHEN_VALID = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

/** What is allowed, for issues whose schema did not say it itself. */
function allowedFor(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return (
        (
          { object: 'an object', array: 'a list', boolean: 'true or false', string: 'a string', number: 'a number', int: 'an integer' } as Record<
            string,
            string
          >
        )[issue.expected] ?? issue.expected
      );
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return issue.inst instanceof z.ZodObject ? `one of ${Object.keys(issue.inst.shape).join(', ')}` : 'a known key';
    default:
      return undefined;
  }
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: ConfigError };

/** Parses `input`; a refusal names `source` (a file, a variable, a flag) on every line. */
export function tryParse<S extends z.ZodType>(schema: S, input: unknown, source: string): Parsed<z.output<S>> {
  const result = schema.safeParse(input, { reportInput: true, error: allowedFor });
  if (result.success) return { ok: true, value: result.data };
  // Several checks of one leaf may fail on the same value (1000 is neither ≥ 1024
  // nor a power of two) and say the same thing: say it once.
  const problems = new Set(result.error.issues.flatMap((issue) => describeIssue(issue, source)));
  return { ok: false, error: new ConfigError([...problems]) };
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const parsed = tryParse(schema, input, source);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

/** One line per problem: an issue about several unknown keys names each. */
function describeIssue(issue: z.core.$ZodIssue, source: string): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${source}: ${formatPath([...issue.path, key])}: unknown key: expected ${issue.message}`);
  }
  const where = issue.path.length === 0 ? source : `${source}: ${formatPath(issue.path)}`;
  if (issue.input === undefined) return [`${where}: missing: expected ${issue.message}`];
  return [`${where}: ${formatValue(issue.input)} is not allowed: expected ${issue.message}`];
}

/** `scheduler.laneTable.lanes[0].lane`, as a person would write it in JSON. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

const VALUE_CHARS = 60;

function formatValue(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > VALUE_CHARS ? `${json.slice(0, VALUE_CHARS - 1)}…` : json;
}
