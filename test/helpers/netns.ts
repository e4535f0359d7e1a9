// A small network of hosts for partition tests: each host is a network
// namespace with its own address on one or more networks (a bridge per
// network, inside a "switch" namespace the lab makes); the test process joins
// the networks it needs through a veth of its own. Taking a host's link to a
// network down is a partition of that host from that network; `heal` brings
// it back. Every name carries a tag unique to this lab (neighbours run labs
// too), subnets are picked where no route exists, and the cleanup registry
// removes everything whatever the test's outcome.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { registerCleanup } from './cleanup.js';

export interface LabSpec {
  /** Network names, e.g. ['etcd', 'data']. */
  networks: string[];
  /** Host name (at most 6 characters) → the networks it is on. */
  hosts: Record<string, string[]>;
  /** Networks the test process itself joins (at address .254). */
  root?: string[];
}

export interface Lab {
  tag: string;
  /** The host's address on a network. */
  address(host: string, network: string): string;
  /** The test process's address on a network it joined. */
  rootAddress(network: string): string;
  /** argv that runs `argv` inside the host's namespace (`ip netns exec` execs it: the pid is the program's). */
  command(host: string, argv: string[]): string[];
  /** Takes the host's link to `network` down: nothing passes between them until `heal`. */
  cut(host: string, network: string): void;
  heal(host: string, network: string): void;
  /** The namespace's name, for `ip netns exec`. */
  namespace(host: string): string;
}

const IP = '/usr/sbin/ip';

function ip(args: string[]): void {
  execFileSync(IP, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs many `ip` commands in one process (`ip -batch`): a three-host lab is set up in tens of ms. */
function ipBatch(options: string[], lines: string[]): void {
  if (lines.length === 0) return;
  try {
    execFileSync(IP, [...options, '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`ip ${[...options, '-batch'].join(' ')} failed: ${stderr} (network namespaces need root, or CAP_NET_ADMIN and CAP_SYS_ADMIN)`);
  }
}

/** /24s of 10.0.0.0/8 that no address or route of the machine uses now. */
function freeSubnets(count: number): string[] {
  const used =
    execFileSync(IP, ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }) + execFileSync(IP, ['-4', '-o', 'addr'], { encoding: 'utf8' });
  const out: string[] = [];
  while (out.length < count) {
    const subnet = `10.${100 + (randomBytes(1)[0]! % 150)}.${randomBytes(1)[0]!}`;
    if (!used.includes(`${subnet}.`) && !out.includes(subnet)) out.push(subnet);
  }
  return out;
}

export function startLab(spec: LabSpec): Lab {
  const tag = `fl${randomBytes(3).toString('hex')}`;
  const ns = (host: string): string => `fleet-${tag}-${host}`;
  const sw = ns('sw');
  const picked = freeSubnets(spec.networks.length);
  const subnets = new Map(spec.networks.map((n, i) => [n, picked[i]!]));
  const hostIndex = new Map(Object.keys(spec.hosts).map((h, i) => [h, i + 1]));
  for (const host of hostIndex.keys()) if (host.length > 6 || !/^[a-z0-9]+$/.test(host)) throw new Error(`lab host name ${host}: at most 6 of a-z 0-9`);
  const netIndex = new Map(spec.networks.map((n, i) => [n, i]));
  const rootLinks = (spec.root ?? []).map((n) => `${tag}r${netIndex.get(n)}`);
  // Released last registered first: the root side is removed at once (namespace deletion is asynchronous).
  registerCleanup(`lab ${tag} namespaces`, () => {
    for (const host of [...hostIndex.keys(), 'sw']) {
      try {
        ip(['netns', 'del', ns(host)]);
      } catch {
        /* never made */
      }
    }
  });
  registerCleanup(`lab ${tag} root links`, () => {
    for (const link of rootLinks) {
      try {
        ip(['link', 'del', link]);
      } catch {
        /* gone with its namespace */
      }
    }
  });
  // `ip -batch` takes no -n per line: one batch per namespace, in an order where each peer's namespace exists.
  const root: string[] = [`netns add ${sw}`, ...[...hostIndex.keys()].map((h) => `netns add ${ns(h)}`)];
  const switchSide: string[] = ['link set lo up'];
  const ports: string[] = [];
  const hostSide = new Map<string, string[]>();
  for (const [network, i] of netIndex) {
    switchSide.push(`link add br${i} type bridge`, `link set br${i} up`);
    if (spec.root?.includes(network)) {
      const link = `${tag}r${i}`;
      root.push(`link add ${link} type veth peer name r${i} netns ${sw}`, `addr add ${subnets.get(network)}.254/24 dev ${link}`, `link set ${link} up`);
      ports.push(`link set r${i} master br${i} up`);
    }
  }
  for (const [host, h] of hostIndex) {
    const lines = ['link set lo up'];
    for (const network of spec.hosts[host]!) {
      const i = netIndex.get(network);
      if (i === undefined) throw new Error(`lab host ${host}: no network ${network}`);
      lines.push(
        `link add eth${i} type veth peer name ${host}-${i} netns ${sw}`,
        `addr add ${subnets.get(network)}.${h}/24 dev eth${i}`,
        `link set eth${i} up`,
      );
      ports.push(`link set ${host}-${i} master br${i} up`);
    }
    hostSide.set(host, lines);
  }
  ipBatch([], root.slice(0, hostIndex.size + 1));
  ipBatch(['-n', sw], switchSide);
  ipBatch([], root.slice(hostIndex.size + 1));
  for (const [host, lines] of hostSide) ipBatch(['-n', ns(host)], lines);
  ipBatch(['-n', sw], ports);
  const address = (host: string, network: string): string => {
    if (!spec.hosts[host]?.includes(network)) throw new Error(`lab host ${host} is not on ${network}`);
    return `${subnets.get(network)}.${hostIndex.get(host)}`;
  };
  const link = (host: string, network: string): string => `${host}-${netIndex.get(network)}`;
  return {
    tag,
    address,
    rootAddress: (network) => {
      if (!spec.root?.includes(network)) throw new Error(`the test process is not on ${network}`);
      return `${subnets.get(network)}.254`;
    },
    command: (host, argv) => [IP, 'netns', 'exec', ns(host), ...argv],
    cut: (host, network) => ip(['-n', sw, 'link', 'set', link(host, network), 'down']),
    heal: (host, network) => ip(['-n', sw, 'link', 'set', link(host, network), 'up']),
    namespace: ns,
  };
}
