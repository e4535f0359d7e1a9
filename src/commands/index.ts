// The command line: `chainlanes COMMAND …`. Each command is one module with its
// spec (forms, flags, help) and its work; this file finds the command, parses
// its words, and turns what it throws into an exit status:
// 2 for wrong usage or a refused setting, 1 for a failure while running.
import { ConfigError } from '../config/index.js';
import { errorMessage } from '../log/index.js';
import { benchCommand } from './bench.js';
import { doctorCommand } from './doctor.js';
import { fleetCommand } from './fleet.js';
import { keygenCommand } from './keygen.js';
import { lanesCommand } from './lanes.js';
import { monitorCommand } from './monitor.js';
import { print, printError } from './output.js';
import { serveCommand } from './serve.js';
import { UsageError, commandHelp, parseCommand, subcommandOf, type CommandSpec } from './spec.js';
import { verifyCommand } from './verify.js';
import { waitCommand } from './wait.js';
import { packageVersion } from './version.js';

export { UsageError, commandHelp, parseCommand, subcommandOf, type CommandSpec, type FlagSpec } from './spec.js';

export const COMMANDS: readonly CommandSpec[] = [
  serveCommand,
  waitCommand,
  verifyCommand,
  monitorCommand,
  lanesCommand,
  keygenCommand,
  doctorCommand,
  fleetCommand,
  benchCommand,
];

/** Every command that runs: a two-word command's second words in place of its first (`fleet run`…). */
export function commandLeaves(): CommandSpec[] {
  return COMMANDS.flatMap((c) => c.subcommands ?? [c]);
}

/** The list of commands: `chainlanes --help`, and what a bare `chainlanes` says on stderr. */
export function usage(): string {
  const lines = commandLeaves().flatMap((c) =>
    c.forms.map((form, i) => ({ form: `chainlanes ${c.name}${form === '' ? '' : ` ${form}`}`, summary: i === 0 ? c.summary : '' })),
  );
  return [
    'usage:',
    ...lines.map((l) => `  ${l.form}${l.summary === '' ? '' : `\n      ${l.summary}`}`),
    '  chainlanes COMMAND --help | --version',
    '',
    'Exit status: 2 for wrong usage or a refused setting, 1 for a failure while running.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') return print(`chainlanes ${packageVersion()}`);
  if (name === '--help' || name === '-h' || name === 'help') return print(usage());
  if (name === undefined) {
    printError(`chainlanes: which command?\n\n${usage()}`);
    process.exit(2);
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    printError(`chainlanes: unknown command "${name}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')} (chainlanes --help)`);
    process.exit(2);
  }
  if (rest.includes('--version')) return print(`chainlanes ${packageVersion()}`);
  const asksHelp = rest.includes('--help') || rest.includes('-h');
  let leaf = command;
  let words = rest;
  if (command.subcommands !== undefined) {
    if (asksHelp && (rest[0] === undefined || rest[0].startsWith('-'))) return print(commandHelp(command));
    try {
      leaf = subcommandOf(command, rest[0]);
    } catch (error) {
      exitFor(command, error);
    }
    words = rest.slice(1);
  }
  // bench answers --help itself.
  if (leaf.ownParser !== true && asksHelp) return print(commandHelp(leaf));
  try {
    await leaf.run(parseCommand(leaf, words));
  } catch (error) {
    exitFor(leaf, error);
  }
}

function exitFor(command: CommandSpec, error: unknown): never {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) printError(`chainlanes: ${problem}`);
    process.exit(2);
  }
  if (error instanceof UsageError) {
    printError(`chainlanes ${command.name}: ${error.message} (chainlanes ${command.name} --help lists the flags)`);
    process.exit(2);
  }
  printError(`chainlanes ${command.name}: ${errorMessage(error)}`);
  process.exit(1);
}
