// How a command of the CLI is described: its forms, its flags and its help,
// in one table from which both the parser and `--help` are made, so the two
// cannot disagree (test/ops/cli.test.ts compares them).
import { parseArgs } from 'node:util';

export interface FlagSpec {
  /** Without the dashes. */
  name: string;
  /** The value's placeholder in help (FILE, DIR, URL…); absent for a switch. */
  value?: string;
  help: string;
  /** May be given more than once (values collected in order). */
  multiple?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The words as given, for a command that reads them again (serve's config layering). */
  argv: string[];
}

export interface CommandSpec {
  name: string;
  /** Usage lines after `chainlanes NAME`. */
  forms: string[];
  /** One line for the list of commands. */
  summary: string;
  /** What the command does, exit status included, for its --help. */
  description: string;
  flags: readonly FlagSpec[];
  /** Whether words other than flags are taken (URLs, chain names…). */
  positionals?: boolean;
  /** The command parses its own words (bench): they are passed on unparsed. */
  ownParser?: boolean;
  /**
   * Commands of two words (`fleet run`): each has its own spec, named with
   * both words; the first word's spec lists them in its help and runs none itself.
   */
  subcommands?: readonly CommandSpec[];
  /** Text appended to --help (serve's settings table). */
  appendix?: () => string;
  run(args: ParsedArgs): Promise<void>;
}

/** A command line the command cannot take: said in one line, with the nearest right word when there is one. */
export class UsageError extends Error {}

/** The command's arguments, or a UsageError naming the unknown flag and its nearest match. */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedArgs {
  if (spec.ownParser === true) return { flags: {}, positionals: argv, argv };
  const options = Object.fromEntries(
    spec.flags.map((f) => [f.name, { type: f.value === undefined ? 'boolean' : 'string', multiple: f.multiple === true }] as const),
  );
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals === true });
    return { flags: values as ParsedArgs['flags'], positionals, argv };
  } catch (error) {
    throw usageErrorOf(spec, error);
  }
}

function usageErrorOf(spec: CommandSpec, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const message = (error as Error).message;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const given = /'(-{1,2}[^' ]*)'/.exec(message)?.[1] ?? '';
    const near = nearestFlag(spec, given.replace(/^-+/, '').split('=')[0]!);
    return new UsageError(`unknown flag ${given}${near === null ? '' : `; did you mean --${near}?`}`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const word = /'([^']*)'/.exec(message)?.[1] ?? '';
    return new UsageError(`${spec.name} takes no word like ${JSON.stringify(word)}; flags start with --`);
  }
  // ERR_PARSE_ARGS_INVALID_OPTION_VALUE: a flag without its value, or a switch given one.
  return new UsageError(message.split('. ')[0]!.replace(/^Option '/, "flag '"));
}

/** The command's flag closest to `given` by edit distance, if close enough to be a typo. */
function nearestFlag(spec: CommandSpec, given: string): string | null {
  return nearest(
    spec.flags.map((f) => f.name),
    given,
  );
}

/** Of `words`, the one closest to `given`, if close enough to be a typo. */
export function nearest(words: readonly string[], given: string): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(given.length / 3)) + 1;
  for (const word of words) {
    const distance = word.startsWith(given) && given.length >= 2 ? 1 : editDistance(given, word);
    if (distance < bestDistance) {
      best = word;
      bestDistance = distance;
    }
  }
  return best;
}

/** The second word's command of a two-word command (`fleet run`), or a UsageError naming the nearest. */
export function subcommandOf(spec: CommandSpec, word: string | undefined): CommandSpec {
  const subs = spec.subcommands ?? [];
  const found = subs.find((sub) => sub.name === `${spec.name} ${word}`);
  if (found !== undefined) return found;
  const words = subs.map((sub) => sub.name.slice(spec.name.length + 1));
  if (word === undefined) throw new UsageError(`which command? ${words.join(', ')}`);
  const near = nearest(words, word);
  throw new UsageError(`no command "${word}"${near === null ? '' : `; did you mean ${near}?`} (the commands are ${words.join(', ')})`);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** `--help` of one command: its forms, what it does, every flag. */
export function commandHelp(spec: CommandSpec): string {
  const forms = spec.forms.map((form, i) => `${i === 0 ? 'usage: ' : '       '}chainlanes ${spec.name}${form === '' ? '' : ` ${form}`}`);
  const width = Math.max(...spec.flags.map((f) => flagLabel(f).length), 0);
  const flags = spec.flags.map((f) => `  ${flagLabel(f).padEnd(width)}  ${f.help}`);
  const parts = [forms.join('\n'), spec.description];
  if (flags.length > 0) parts.push(`flags:\n${flags.join('\n')}\n  ${'--help'.padEnd(width)}  this text\n  ${'--version'.padEnd(width)}  the version`);
  if (spec.subcommands !== undefined) {
    parts.push(
      ['commands:', ...spec.subcommands.flatMap((sub) => [`  chainlanes ${sub.name} ${sub.forms[0] ?? ''}`.trimEnd(), `      ${sub.summary}`])].join('\n'),
    );
  }
  if (spec.appendix !== undefined) parts.push(spec.appendix());
  return parts.join('\n\n');
}

function flagLabel(flag: FlagSpec): string {
  return `--${flag.name}${flag.value === undefined ? '' : ` ${flag.value}`}`;
}

/** A flag that takes a value, as given (undefined when absent). */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === 'string' ? value : undefined;
}
