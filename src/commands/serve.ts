// `chainlanes serve`: the gateway, until SIGINT or SIGTERM.
import {
  CONFIG_FILE_ENV,
  ConfigError,
  SWITCH_SETTINGS,
  TEST_FAULTS_ENV,
  TEXT_SETTINGS,
  checkTlsFiles,
  faultsFromEnv,
  hasFaults,
  resolveConfig,
} from '../config/index.js';
import { ADMIN_KEY_ENV, checkOpenBind, readAdminKey } from '../credits/index.js';
import { createLogger, errorMessage } from '../log/index.js';
import { stopWithNpm } from './npm-parent.js';
import { printError } from './output.js';
import type { CommandSpec, FlagSpec, ParsedArgs } from './spec.js';

const FLAGS: FlagSpec[] = [
  { name: 'config', value: 'FILE', help: 'settings as JSON (docs/configuration.md)' },
  ...TEXT_SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [{ name: s.flag, value: s.value, help: s.help }])),
  ...SWITCH_SETTINGS.map((s) => ({ name: s.flag, help: s.help })),
];

function settingsTable(): string {
  const rows: [string, string, string][] = [
    ['flag', 'environment', 'config key'],
    ['--config FILE', CONFIG_FILE_ENV, ''],
    ...TEXT_SETTINGS.map((s): [string, string, string] => [s.flag === undefined ? '' : `--${s.flag}`, s.env, s.key]),
    ...SWITCH_SETTINGS.map((s): [string, string, string] => [`--${s.flag}`, '', s.key]),
    ['', ADMIN_KEY_ENV, '(the admin key itself; never in a config file)'],
  ];
  const lines = rows.map(([flag, env, key]) => `  ${flag.padEnd(18)} ${env.padEnd(30)} ${key}`.trimEnd());
  return [
    'Settings: defaults < --config FILE (JSON) < CHAINLANES_* environment < flags.',
    ...lines,
    'CHAINLANES_NATIVE=0: pure-JS hashing.',
    `${TEST_FAULTS_ENV}: for tests of failure handling only, never in production.`,
  ].join('\n');
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  forms: ['[--host H] [--port P] [--data DIR] [--config FILE] [--admin-key-file FILE] [--tls-cert FILE --tls-key FILE] [flags…]'],
  summary: 'run the gateway',
  description: [
    'Runs the gateway until SIGINT or SIGTERM (then answers frames in flight, seals, and exits 0).',
    'With an admin key the gateway is authenticated (accounts, keys, credits); without one it is open',
    '(chains free to anyone) and listens on loopback only unless --insecure-open. A store that has held',
    'accounts or owned chains starts only with its admin key. With --tls-cert and --tls-key the port',
    'speaks only TLS. Started through npm (npm start, npx), it stops when npm does.',
    'Exit status: 0 after a clean stop, 2 for a refused setting, 1 for a failure.',
  ].join('\n'),
  flags: FLAGS,
  appendix: settingsTable,
  run: serve,
};

async function serve(args: ParsedArgs): Promise<void> {
  // The flags were checked against FLAGS; resolveConfig layers them over the file and the environment.
  const config = resolveConfig(args.argv, process.env);
  // Refused before anything starts: a key file others can read, or an open gateway on a public address.
  const adminKey = readAdminKey(config.auth, process.env);
  checkOpenBind(config.host, config.auth, adminKey);
  checkTlsFiles(config.tls);
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  // Tests only: faults come from their own variable, never from the config, so
  // no config file or flag can turn them on.
  const faults = faultsFromEnv(process.env);
  if (hasFaults(faults)) log.warn({ event: 'test-faults', faults }, `${TEST_FAULTS_ENV} is set: injecting faults (tests only)`);
  const { Gateway } = await import('../gateway.js');
  // Handlers go in before the start: the "listening" line is logged inside it,
  // and a supervisor (or a test) that signals right after reading it must get a
  // clean shutdown, not the default death by signal.
  let started: ReturnType<typeof Gateway.start> | null = null;
  let signals = 0;
  const stop = (why: string): void => {
    signals++;
    if (signals > 1) {
      log.warn({ event: 'shutdown', signal: why }, `second ${why}, exiting without finishing`);
      process.exit(130);
    }
    log.info({ event: 'shutdown', signal: why }, `${why}: answering frames in flight and sealing, then exiting`);
    if (started === null) process.exit(0);
    started
      .then((gateway) => gateway.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log.fatal({ event: 'shutdown-failed', err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  stopWithNpm(log, stop);
  started = Gateway.start(config, { faults, log, adminKey });
  try {
    await started;
  } catch (error) {
    log.fatal({ event: 'start-failed', error: errorMessage(error) }, `cannot start: ${errorMessage(error)}`);
    // A refused setting (the lane table in the store, a priced store without its key) is the operator's
    // to fix: said on stderr like every other refusal, with status 2, besides the log line for the supervisor.
    if (error instanceof ConfigError) {
      for (const problem of error.problems) printError(`chainlanes: ${problem}`);
      process.exit(2);
    }
    process.exit(1);
  }
}
