// `chainlanes wait URL`: returns once a gateway answers GET /readyz with 200,
// so a script (or the README's walkthroughs) can start one in the background
// and go on only when it serves.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../log/index.js';
import { print, printError } from './output.js';
import { UsageError, stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';

const POLL_MS = 100;
const DEFAULT_TIMEOUT_S = 30;
const MAX_TIMEOUT_S = 3600;

export const waitCommand: CommandSpec = {
  name: 'wait',
  forms: ['[URL] [--timeout S]'],
  summary: 'wait until a gateway is ready (GET /readyz answers 200)',
  description: [
    'Asks URL/readyz (default http://127.0.0.1:9001, or CHAINLANES_URL) every 100 ms until it answers',
    '200, then prints "ready" and exits 0. A self-signed certificate is trusted through NODE_EXTRA_CA_CERTS.',
    'Exit status: 0 when ready, 1 when not ready within the timeout (the last answer or error named),',
    '2 for wrong usage.',
  ].join('\n'),
  flags: [{ name: 'timeout', value: 'S', help: `give up after S seconds (default ${DEFAULT_TIMEOUT_S})` }],
  positionals: true,
  run: wait,
};

async function wait(args: ParsedArgs): Promise<void> {
  if (args.positionals.length > 1) throw new UsageError(`takes one URL, got ${args.positionals.length}`);
  const base = args.positionals[0] ?? process.env.CHAINLANES_URL ?? 'http://127.0.0.1:9001';
  const url = readyzUrl(base);
  const timeout = Number(stringFlag(args, 'timeout') ?? DEFAULT_TIMEOUT_S);
  if (!(timeout > 0 && timeout <= MAX_TIMEOUT_S)) throw new UsageError(`--timeout must be seconds, more than 0 and at most ${MAX_TIMEOUT_S}`);
  const until = Date.now() + timeout * 1000;
  let last = 'no answer yet';
  while (Date.now() < until) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, until - Date.now())) });
      const body = await response.text();
      if (response.status === 200) return print('ready');
      last = `HTTP ${response.status} ${body.slice(0, 200)}`;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      last = cause instanceof Error ? cause.message : errorMessage(error);
    }
    await sleep(POLL_MS);
  }
  printError(`chainlanes wait: ${url} not ready after ${timeout} s: ${last}`);
  process.exit(1);
}

function readyzUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(base)} (e.g. http://127.0.0.1:9001)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`not an http:// or https:// URL: ${base}`);
  return new URL('/readyz', url);
}
