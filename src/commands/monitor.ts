// `chainlanes monitor URL…`: a witness of gateways' signed heads (src/monitor).
import { ConfigError } from '../config/index.js';
import { print } from './output.js';
import { UsageError, stringFlag, type CommandSpec, type ParsedArgs } from './spec.js';

export const monitorCommand: CommandSpec = {
  name: 'monitor',
  forms: ['URL… [--state DIR] [--once] [--interval S] [--max-age S] [--timeout S] [--metrics HOST:PORT] [--cosign-key FILE] [--json]'],
  summary: "watch gateways' signed heads: a fork, a rollback, a bad signature or a stale head, with both heads as evidence",
  description: [
    'Watches the signed heads of the gateways at URL… (http:// or https://). At the first look it pins each',
    "gateway's key; at every look it checks the head's signature and its consistency with the last head it",
    'accepted, which it keeps in --state DIR across runs. A fork, a rollback, a bad signature, a head older than',
    '--max-age or a missing consistency proof is reported with its evidence (both signed heads, written under',
    'DIR/evidence). --once: one look at each, then exit. Otherwise it looks every --interval until SIGINT/SIGTERM,',
    'with Prometheus metrics on --metrics. --cosign-key: an Ed25519 PEM key (owner-only); each accepted head is',
    'co-signed and posted to the gateway.',
    'Exit status (--once): 0 when all are fine, 1 on an event, 3 when a gateway could not be asked; 2 for wrong usage.',
  ].join('\n'),
  flags: [
    { name: 'state', value: 'DIR', help: 'where accepted heads and evidence are kept (default ./chainlanes-monitor)' },
    { name: 'once', help: 'one look at each gateway, then exit' },
    { name: 'interval', value: 'S', help: 'seconds between looks (default 10)' },
    { name: 'max-age', value: 'S', help: 'a head older than this is stale (default 300)' },
    { name: 'timeout', value: 'S', help: 'seconds one request may take (default 10)' },
    { name: 'metrics', value: 'HOST:PORT', help: 'serve Prometheus metrics there (port 0: any free port)' },
    { name: 'cosign-key', value: 'FILE', help: 'co-sign each accepted head with this Ed25519 PEM key' },
    { name: 'json', help: 'events as JSON lines' },
  ],
  positionals: true,
  run: monitor,
};

async function monitor(args: ParsedArgs): Promise<void> {
  if (args.positionals.length === 0) throw new UsageError('monitor needs at least one gateway URL');
  const urls = args.positionals.map((text) => {
    const url = URL.canParse(text) ? new URL(text) : null;
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      throw new UsageError(`${JSON.stringify(text)} is not an http:// or https:// URL`);
    return url.href.replace(/\/+$/, '');
  });
  const seconds = (flag: string, fallback: string, max: number): number => {
    const text = stringFlag(args, flag) ?? fallback;
    const n = Number(text);
    if (!(n > 0 && n <= max))
      throw new ConfigError([`flag --${flag}: ${JSON.stringify(text)} is not allowed: expected seconds, more than 0 and at most ${max}`]);
    return Math.round(n * 1000);
  };
  const metricsAt = stringFlag(args, 'metrics');
  const metrics = metricsAt === undefined ? null : hostPort(metricsAt);
  const { readEd25519KeyFile } = await import('../validation/index.js');
  const cosignFile = stringFlag(args, 'cosign-key');
  const cosignKey = cosignFile === undefined ? null : readEd25519KeyFile(cosignFile, 'flag --cosign-key');
  const { createPublicKey } = await import('node:crypto');
  const witness = cosignKey === null ? null : Buffer.from(createPublicKey(cosignKey).export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  const { HeadMonitor } = await import('../monitor/index.js');
  const watcher = new HeadMonitor({
    gateways: urls,
    stateDir: stringFlag(args, 'state') ?? 'chainlanes-monitor',
    intervalMs: seconds('interval', '10', 86_400),
    maxAgeMs: seconds('max-age', '300', 10 * 86_400),
    timeoutMs: seconds('timeout', '10', 600),
    cosignKey,
    witness,
    json: args.flags.json === true,
    print,
  });
  if (witness !== null) print(`monitor: co-signing accepted heads as witness ${witness} (list it in the gateways' heads.witnesses)`);
  if (args.flags.once === true) {
    const result = await watcher.round();
    // Exit once stdout has taken every line: a pipe is written asynchronously, and process.exit would cut it short.
    const status = result.events > 0 ? 1 : result.unreachable > 0 ? 3 : 0;
    process.stdout.write('', () => process.exit(status));
    return;
  }
  const stop = (): void => void watcher.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await watcher.run(metrics);
  if (metrics !== null) print(`monitor: metrics on http://${metrics.host}:${watcher.metricsPort}/metrics`);
}

function hostPort(text: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || match[1] === '' || port > 65535)
    throw new ConfigError([`flag --metrics: ${JSON.stringify(text)} is not allowed: expected HOST:PORT, e.g. 127.0.0.1:9464 (port 0: any free port)`]);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}
