// `chainlanes fleet run|status|events|move|haproxy-config`: the fleet's own
// commands (src/fleet/commands.ts), which parse their words themselves.
import { createLogger } from '../log/index.js';
import { print } from './output.js';
import type { CommandSpec, ParsedArgs } from './spec.js';

export const fleetCommand: CommandSpec = {
  name: 'fleet',
  forms: ['run|status|events|move|haproxy-config --etcd URLS …'],
  summary: 'a fleet of gateways behind HAProxy, etcd deciding who owns each chain (docs/fleet.md)',
  description: 'The fleet\'s commands; `chainlanes fleet --help` lists them and their flags.',
  flags: [],
  ownParser: true,
  run: fleet,
};

async function fleet(args: ParsedArgs): Promise<void> {
  const { fleetCommand: run } = await import('../fleet/index.js');
  await run(args.argv, { print, log: () => createLogger({ level: 'info', format: 'auto' }) });
}
