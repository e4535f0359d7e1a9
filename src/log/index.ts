// The gateway's logger: pino, one JSON object per line for machines, or a
// readable line for a person at a terminal. Only events are logged (start-up
// facts, lane and core moves, seal failures, faults), never anything per entry.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `auto`: readable on a terminal, JSON when stdout is a file, a pipe or a log collector. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
}

/**
 * A logger writing to stdout. Writes are synchronous: the gateway logs rarely,
 * and a line written just before `process.exit` (a refused start) must not be lost.
 */
export function createLogger(options: LogOptions): Logger {
  const readable = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!readable) return pino(base, pino.destination({ dest: 1, sync: true }));
  return pino(base, pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

/** A logger that drops everything: for embedding and tests that do not read the log. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The message of anything thrown, for a log field. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
