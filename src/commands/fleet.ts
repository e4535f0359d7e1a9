// `chainlanes fleet run|status|events|move|haproxy-config`: the fleet's
// commands (docs/fleet.md), each a command of its own with its flags and help;
// what they do is in src/fleet/commands.ts.
import { createLogger } from '../log/index.js';
import { print } from './output.js';
import { UsageError, stringFlag, type CommandSpec, type FlagSpec, type ParsedArgs } from './spec.js';

const ETCD: FlagSpec[] = [
  { name: 'etcd', value: 'URLS', help: "the fleet's etcd client URLs, comma-separated (required)" },
  { name: 'prefix', value: 'P', help: "where the fleet's keys live in etcd (default /chainlanes/)" },
];
const JSON_FLAG: FlagSpec = { name: 'json', help: 'print JSON instead of lines' };
const ADMIN_KEY_FILE: FlagSpec = { name: 'admin-key-file', value: 'FILE', help: "the gateways' admin key (mode 0600; or CHAINLANES_ADMIN_KEY)" };

async function fleet(): Promise<typeof import('../fleet/index.js')> {
  return import('../fleet/index.js');
}

const io = { print, log: () => createLogger({ level: 'info', format: 'auto' }) };

async function etcdOf(args: ParsedArgs): Promise<ReturnType<Awaited<ReturnType<typeof fleet>>['etcdSettingsOf']>> {
  return (await fleet()).etcdSettingsOf(stringFlag(args, 'etcd'), stringFlag(args, 'prefix'));
}

const runCommand: CommandSpec = {
  name: 'fleet run',
  forms: ['--etcd URLS [--haproxy-socket PATH --haproxy-map PATH] [--id NAME] [flags…]'],
  summary: "mirror etcd's chain ownership into HAProxy; the leading instance balances the gateways",
  description: [
    "Mirrors etcd's chain ownership into HAProxy (runtime API and map file). One or more instances may run (one",
    'beside each HAProxy); the one that wins the election in etcd also balances the gateways with the lane rules',
    '(headroom, hysteresis, a move only to relieve an overloaded gateway) and moves chains by handoff.',
    'Runs until SIGINT or SIGTERM. Exit status: 0 after a clean stop, 2 for a refused setting, 1 for a failure.',
  ].join('\n'),
  flags: [
    ...ETCD,
    { name: 'haproxy-socket', value: 'PATH', help: "HAProxy's runtime API socket (with --haproxy-map)" },
    { name: 'haproxy-map', value: 'PATH', help: "the map file HAProxy's configuration reads (chain → gateway)" },
    { name: 'id', value: 'NAME', help: "this instance's name in the election (default host-pid)" },
    ADMIN_KEY_FILE,
    { name: 'no-balance', help: 'mirror only; never lead the balancing' },
    { name: 'headroom', value: 'F', help: 'a gateway carries at most this fraction of its capacity (default 0.8)' },
    { name: 'overloaded-for-ms', value: 'MS', help: 'over the headroom this long before a chain moves off it (default 30000)' },
    { name: 'max-moves-per-hour', value: 'N', help: 'moves fleet-wide per hour, at most (default 60)' },
    { name: 'every-ms', value: 'MS', help: 'how often the leader decides (default 5000)' },
    { name: 'lease-ttl', value: 'S', help: "this instance's lease in etcd, seconds (default 10)" },
  ],
  run: async (args) => {
    const f = await fleet();
    const n = (name: string): number | undefined => f.numberFlag(stringFlag(args, name), name);
    await f.runFleet(
      {
        etcd: await etcdOf(args),
        haproxySocket: stringFlag(args, 'haproxy-socket'),
        haproxyMap: stringFlag(args, 'haproxy-map'),
        id: stringFlag(args, 'id'),
        adminKeyFile: stringFlag(args, 'admin-key-file'),
        balance: args.flags['no-balance'] !== true,
        headroom: n('headroom'),
        overloadedForMs: n('overloaded-for-ms'),
        maxMovesPerHour: n('max-moves-per-hour'),
        everyMs: n('every-ms'),
        leaseTtl: n('lease-ttl'),
      },
      io,
    );
  },
};

const statusCommand: CommandSpec = {
  name: 'fleet status',
  forms: ['--etcd URLS [--prefix P] [--json]'],
  summary: 'members, their capacity and load, who owns how many chains, who leads the balancer',
  description:
    'Prints the fleet as etcd holds it now, and the owners of chains that are not live members (their chains wait for them).\nExit status: 0, 2 for a refused flag, 1 when etcd cannot be read.',
  flags: [...ETCD, JSON_FLAG],
  run: async (args) => (await fleet()).printStatus(await etcdOf(args), args.flags.json === true, io),
};

const eventsCommand: CommandSpec = {
  name: 'fleet events',
  forms: ['--etcd URLS [--prefix P] [--since REVISION] [--json]'],
  summary: 'every move with its reason and numbers, overloads, members joining and leaving',
  description: "Prints the fleet's decisions kept in etcd, oldest first.\nExit status: 0, 2 for a refused flag, 1 when etcd cannot be read.",
  flags: [...ETCD, { name: 'since', value: 'REVISION', help: 'only events after this etcd revision' }, JSON_FLAG],
  run: async (args) => {
    const f = await fleet();
    await f.printEvents(await etcdOf(args), f.numberFlag(stringFlag(args, 'since'), 'since') ?? 0, args.flags.json === true, io);
  },
};

const moveCommand: CommandSpec = {
  name: 'fleet move',
  forms: ['CHAIN GATEWAY --etcd URLS [--admin-key-file FILE] [--force --from-url URL]'],
  summary: 'hand CHAIN off to GATEWAY by hand',
  description: [
    'Hands CHAIN off from its owner to GATEWAY: the owner stops admitting it and seals what it accepted, GATEWAY',
    "copies and checks its blocks, and etcd's transaction on the chain's fencing token commits the move. A failed",
    'step leaves the old owner as the only owner. --force moves a chain whose owner is cut off from etcd (its',
    'lease expired) but still serves reads, from its URL (--from-url).',
    'Exit status: 0 once moved, 2 for a refused flag, 1 when the move failed (the message names the step).',
  ].join('\n'),
  flags: [
    ...ETCD,
    ADMIN_KEY_FILE,
    { name: 'force', help: 'the owner is cut off from etcd (not a live member)' },
    { name: 'from-url', value: 'URL', help: "the owner's URL, for --force" },
  ],
  positionals: true,
  run: async (args) => {
    const [chain, to] = args.positionals;
    if (chain === undefined || to === undefined || args.positionals.length !== 2) throw new UsageError('give CHAIN and GATEWAY');
    await (
      await fleet()
    ).moveByHand(
      await etcdOf(args),
      chain,
      to,
      { adminKeyFile: stringFlag(args, 'admin-key-file'), force: args.flags.force === true, fromUrl: stringFlag(args, 'from-url') },
      io,
    );
  },
};

const haproxyConfigCommand: CommandSpec = {
  name: 'fleet haproxy-config',
  forms: ['--etcd URLS --bind ADDR:PORT --haproxy-socket PATH --haproxy-map PATH [--log TARGET]'],
  summary: 'print a working HAProxy configuration for the current members',
  description:
    'Prints a HAProxy 2.6 configuration routing each chain to its owner (the map) and unmapped chains by consistent\nhashing, with health checks on /readyz and a log without query strings (docs/fleet.md "HAProxy").\nExit status: 0, 2 for a refused flag, 1 when etcd cannot be read.',
  flags: [
    ...ETCD,
    { name: 'bind', value: 'ADDR:PORT', help: 'where HAProxy listens (required)' },
    { name: 'haproxy-socket', value: 'PATH', help: 'its runtime API socket, an absolute path (required)' },
    { name: 'haproxy-map', value: 'PATH', help: 'its chain → gateway map file, an absolute path (required)' },
    { name: 'log', value: 'TARGET', help: 'a HAProxy log target and its options (default stdout format raw local0)' },
  ],
  run: async (args) =>
    (await fleet()).printHaproxyConfig(
      await etcdOf(args),
      {
        bind: stringFlag(args, 'bind'),
        haproxySocket: stringFlag(args, 'haproxy-socket'),
        haproxyMap: stringFlag(args, 'haproxy-map'),
        log: stringFlag(args, 'log'),
      },
      io,
    ),
};

export const fleetCommand: CommandSpec = {
  name: 'fleet',
  forms: ['run|status|events|move|haproxy-config …'],
  summary: 'a fleet of gateways behind HAProxy, etcd deciding who owns each chain (docs/fleet.md)',
  description: "The fleet's commands; `chainlanes fleet COMMAND --help` lists each one's flags.",
  flags: [],
  subcommands: [runCommand, statusCommand, eventsCommand, moveCommand, haproxyConfigCommand],
  run: () => Promise.resolve(),
};
