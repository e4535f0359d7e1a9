// Where settings come from: defaults < --config FILE (JSON) < CHAINLANES_*
// environment < flags. Each source is checked on its own, so a refusal names
// the file, variable or flag that holds the mistake, even when a later
// source overrides it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigSchema, type GatewayConfig } from './schema.js';
import { ConfigError, parseWith, tryParse } from '../validation/index.js';
import { EtcdSettingsSchema, GatewayFleetFields, PartialFleetSchema, type GatewayFleetSettings } from '../fleet/index.js';

/** Dotted paths to the settings that hold a single value. */
type KeyPath<T> = {
  [K in keyof T & string]: T[K] extends readonly unknown[] | null ? K : T[K] extends object ? `${K}.${KeyPath<T[K]>}` : K;
}[keyof T & string];

/** A key of the `fleet` settings (null by default, so not a KeyPath of the config's defaults). */
type FleetKey = `fleet.${KeyPath<GatewayFleetSettings>}`;

export interface TextSetting {
  key: KeyPath<GatewayConfig> | FleetKey;
  env: string;
  /** Without the dashes. */
  flag?: string;
  /** The flag's value in help (FILE, DIR…). */
  value?: string;
  /** What it sets, for `chainlanes serve --help`. */
  help: string;
}

/** The settings the environment and flags may set; their text goes through the same schema as the file's values. */
export const TEXT_SETTINGS: readonly TextSetting[] = [
  { key: 'host', env: 'CHAINLANES_HOST', flag: 'host', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  { key: 'port', env: 'CHAINLANES_PORT', flag: 'port', value: 'PORT', help: 'port to listen on (default 9001; 0: any free port)' },
  { key: 'dataDir', env: 'CHAINLANES_DATA', flag: 'data', value: 'DIR', help: 'the store (default ./data; its parent must exist)' },
  { key: 'logLevel', env: 'CHAINLANES_LOG_LEVEL', flag: 'log-level', value: 'LEVEL', help: 'fatal, error, warn, info (default), debug, trace or silent' },
  { key: 'logFormat', env: 'CHAINLANES_LOG_FORMAT', flag: 'log-format', value: 'FORMAT', help: 'auto (default: readable on a terminal), json or pretty' },
  { key: 'ledger.blockIntervalMs', env: 'CHAINLANES_BLOCK_INTERVAL_MS', help: 'how often blocks are sealed' },
  { key: 'ledger.anchorFile', env: 'CHAINLANES_ANCHOR_FILE', help: 'a file each directory hash is appended to' },
  {
    key: 'anchors.ethereum.rpcUrl',
    env: 'CHAINLANES_ANCHOR_RPC_URL',
    flag: 'anchor-rpc-url',
    value: 'URL',
    help: 'anchor directory hashes to this Ethereum JSON-RPC node',
  },
  {
    key: 'anchors.ethereum.keyFile',
    env: 'CHAINLANES_ANCHOR_KEY_FILE',
    flag: 'anchor-key-file',
    value: 'FILE',
    help: "the anchoring account's private key (mode 0600)",
  },
  { key: 'auth.adminKeyFile', env: 'CHAINLANES_ADMIN_KEY_FILE', flag: 'admin-key-file', value: 'FILE', help: 'the admin key (mode 0600): authenticated mode' },
  {
    key: 'heads.keyFile',
    env: 'CHAINLANES_SIGNING_KEY_FILE',
    flag: 'signing-key-file',
    value: 'FILE',
    help: 'the Ed25519 key that signs directory heads (mode 0600; default: one kept in the store)',
  },
  { key: 'auth.insecureOpen', env: 'CHAINLANES_INSECURE_OPEN', help: 'open mode on a public address' },
  { key: 'auth.publicListings', env: 'CHAINLANES_PUBLIC_LISTINGS', help: 'listings answer without a key in authenticated mode' },
  { key: 'tls.certFile', env: 'CHAINLANES_TLS_CERT', flag: 'tls-cert', value: 'FILE', help: 'TLS certificate chain (PEM): serve only https:// and wss://' },
  { key: 'tls.keyFile', env: 'CHAINLANES_TLS_KEY', flag: 'tls-key', value: 'FILE', help: 'TLS private key (PEM, mode 0600)' },
  {
    key: 'fleet.etcd.endpoints',
    env: 'CHAINLANES_FLEET_ETCD',
    flag: 'fleet-etcd',
    value: 'URLS',
    help: "join a fleet: its etcd's client URLs, comma-separated (docs/fleet.md)",
  },
  {
    key: 'fleet.gatewayId',
    env: 'CHAINLANES_FLEET_GATEWAY_ID',
    flag: 'gateway-id',
    value: 'ID',
    help: "this gateway's id in its fleet (1–63 of A-Z a-z 0-9 . _ -)",
  },
  {
    key: 'fleet.advertiseUrl',
    env: 'CHAINLANES_FLEET_ADVERTISE_URL',
    flag: 'advertise-url',
    value: 'URL',
    help: "this gateway's URL as the fleet's other gateways reach it",
  },
];

/** What a fleet needs from somewhere (file, environment or flags), named as the operator gives it. */
const FLEET_REQUIRED: readonly { key: FleetKey; has(fleet: Record<string, unknown>): boolean }[] = [
  { key: 'fleet.etcd.endpoints', has: (f) => (f.etcd as { endpoints?: unknown } | undefined)?.endpoints !== undefined },
  { key: 'fleet.gatewayId', has: (f) => f.gatewayId !== undefined },
  { key: 'fleet.advertiseUrl', has: (f) => f.advertiseUrl !== undefined },
];

/** The schema of one fleet key's value, checked alone: its siblings may come from other sources. */
const FLEET_FIELDS: Record<string, z.ZodType> = {
  'fleet.etcd.endpoints': EtcdSettingsSchema.shape.endpoints,
  'fleet.gatewayId': GatewayFleetFields.shape.gatewayId,
  'fleet.advertiseUrl': GatewayFleetFields.shape.advertiseUrl,
};

/** Flags that take no value: present means true. */
export const SWITCH_SETTINGS: readonly { key: KeyPath<GatewayConfig>; flag: string; help: string }[] = [
  { key: 'auth.insecureOpen', flag: 'insecure-open', help: 'allow open mode (no admin key) on an address other machines reach' },
];

export const CONFIG_FILE_ENV = 'CHAINLANES_CONFIG';

/** A JSON file of settings; `what` names it in a refusal ("config file", "lane table"). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${what} ${path}: cannot be read (${messageOf(error)})`]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${what} ${path}: is not JSON (${messageOf(error)})`]);
  }
}

/** The serve command's config from its flags and the environment. */
export function resolveConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const options: Record<string, { type: 'string' | 'boolean' }> = Object.fromEntries([
    ['config', { type: 'string' } as const],
    ...TEXT_SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [[s.flag, { type: 'string' } as const] as const])),
    ...SWITCH_SETTINGS.map((s) => [s.flag, { type: 'boolean' } as const] as const),
  ]);
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> };
  const flag = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };

  // The file's settings, checked and with defaults; then the environment's and
  // the flags' on top. Every source is checked before refusing, so one run
  // names every mistake.
  const problems: string[] = [];
  const checked = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  let layered: object = {};
  const file = flag('config') ?? env[CONFIG_FILE_ENV];
  if (file !== undefined && file !== '') layered = checked(() => readConfigFile(file)) ?? layered;
  const texts = [
    // An empty variable counts as unset: shells make it easy to leave one empty.
    ...TEXT_SETTINGS.map((s) => ({ key: s.key, text: env[s.env] || undefined, source: `environment ${s.env}` })),
    ...TEXT_SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [{ key: s.key, text: flag(s.flag), source: `flag --${s.flag}` }])),
  ];
  for (const { key, text, source } of texts) {
    if (text === undefined) continue;
    const value = checked(() => fromText(key, text, source));
    if (value !== undefined) setKey(layered, key, value);
  }
  for (const s of SWITCH_SETTINGS) if (values[s.flag] === true) setKey(layered, s.key, true);
  // A setting refused above is not missing as well.
  if (problems.length === 0) problems.push(...missingFleetSettings(layered));
  if (problems.length > 0) throw new ConfigError(problems);
  return parseWith(ConfigSchema, layered, 'config');
}

/**
 * A config file, checked: everything but `fleet` as the config's schema says;
 * `fleet` key by key, since the file may give some of what a fleet needs and
 * the environment or flags the rest.
 */
function readConfigFile(file: string): object {
  const source = `config file ${file}`;
  const json = readJsonFile(file, 'config file');
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('fleet' in json) || json.fleet === null)
    return parseWith(ConfigSchema, json, source);
  const { fleet, ...rest } = json as Record<string, unknown>;
  const problems: string[] = [];
  const parsed = tryParse(ConfigSchema, rest, source);
  const fleetParsed = tryParse(z.strictObject({ fleet: PartialFleetSchema }), { fleet }, source);
  for (const result of [parsed, fleetParsed]) if (!result.ok) problems.push(...result.error.problems);
  if (!parsed.ok || !fleetParsed.ok) throw new ConfigError(problems);
  return { ...parsed.value, fleet: fleetParsed.value.fleet };
}

/** A `fleet` without one of the settings a gateway joins with: said once, naming each missing one and where it may come from. */
function missingFleetSettings(layered: object): string[] {
  const fleet = (layered as { fleet?: Record<string, unknown> | null }).fleet;
  if (fleet === undefined || fleet === null) return [];
  return FLEET_REQUIRED.filter((r) => !r.has(fleet)).map((r) => {
    const setting = TEXT_SETTINGS.find((s) => s.key === r.key)!;
    return `a gateway joins a fleet with --fleet-etcd, --gateway-id and --advertise-url (or ${FLEET_REQUIRED.map((x) => x.key).join(', ')} in the config file): ${r.key} is missing (--${setting.flag} or ${setting.env})`;
  });
}

/**
 * Text from the environment or a flag as the schema wants it: the text itself
 * where a setting takes text, else the JSON number or boolean it spells. The
 * refusal shows what the user wrote ("abc", not NaN).
 */
function fromText(key: string, text: string, source: string): unknown {
  const field = FLEET_FIELDS[key];
  if (field !== undefined) {
    // etcd's URLs come as one comma-separated list.
    const value =
      key === 'fleet.etcd.endpoints'
        ? text
            .split(',')
            .map((url) => url.trim())
            .filter((url) => url !== '')
        : text;
    return parseWith(field, value, `${source}: ${key}`);
  }
  const asText = tryParse(ConfigSchema, setKey({}, key, text), source);
  if (asText.ok) return text;
  const literal = jsonLiteral(text);
  if (literal === undefined) throw asText.error;
  parseWith(ConfigSchema, setKey({}, key, literal), source);
  return literal;
}

function jsonLiteral(text: string): number | boolean | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Sets a dotted key in a plain object, creating the objects on the way; returns the object. */
function setKey(target: object, key: string, value: unknown): object {
  const parts = key.split('.');
  let node = target as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : (node[part] = {});
  }
  node[parts.at(-1)!] = value;
  return target;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
