// The fleet's settings: what a gateway needs to join (`fleet` in the config,
// `--fleet-etcd`, `--gateway-id`, `--advertise-url`) and what `chainlanes
// fleet run` needs to mirror and balance. Each key says what it allows and
// its default, once; src/config takes `GatewayFleetSchema` into its schema
// when the gateway is wired to the fleet (docs/fleet.md "Integration").
import { hostname } from 'node:os';
import { z } from 'zod';
import { atLeast, integer } from '../validation/index.js';
import { DEFAULT_PREFIX, GATEWAY_ID_RULE, MACHINE_RULE, PREFIX_RULE, URL_RULE, isAdvertiseUrl, isGatewayId, isMachineName, isPrefix } from './keys.js';

const ms = (min: number, max?: number) => integer(min, max, 'milliseconds');
const ETCD_URL = 'an etcd client URL, http:// or https://host:port';
const etcdUrl = z.string({ error: ETCD_URL }).refine(
  (text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.port !== '';
    } catch {
      return false;
    }
  },
  { error: ETCD_URL },
);
export const STANDBY_LOST_CHOICES = ['wait', 'alone'] as const;
export type WhenStandbyLost = (typeof STANDBY_LOST_CHOICES)[number];
const REPLICAS_RULE = '0 (no standby) or 1 (a standby on another machine)';
const machineName = z.string({ error: MACHINE_RULE }).refine(isMachineName, { error: MACHINE_RULE });
/** The host name, when it is a machine name by the rule (it always is on Linux); else one the operator must give. */
function defaultMachine(): string {
  const name = hostname();
  return isMachineName(name) ? name : 'unnamed-machine';
}
const prefix = z.string({ error: PREFIX_RULE }).refine(isPrefix, { error: PREFIX_RULE });
const gatewayId = z.string({ error: GATEWAY_ID_RULE }).refine(isGatewayId, { error: GATEWAY_ID_RULE });
const advertiseUrl = z.string({ error: URL_RULE }).refine(isAdvertiseUrl, { error: URL_RULE });

/** What talking to etcd takes, for gateways and `chainlanes fleet` alike. */
export const EtcdSettingsSchema = z.strictObject({
  /** Client URLs of the etcd cluster's members. */
  endpoints: z.array(etcdUrl).min(1, { error: 'at least one etcd URL' }),
  prefix: prefix.default(DEFAULT_PREFIX),
  requestTimeoutMs: ms(100, 60_000).default(5_000),
  /** The largest answer or watch message read from etcd. */
  maxResponseBytes: integer(64 * 1024, undefined, 'bytes').default(32 * 1024 * 1024),
  /** How often each watched prefix is checked for a silent watch. */
  watchCheckMs: ms(100, 60_000).default(5_000),
});

/** The keys of a gateway's `fleet` settings, each checked alone (the config file may give some, flags the rest). */
export const GatewayFleetFields = z.strictObject({
  etcd: EtcdSettingsSchema,
  gatewayId,
  /** The gateway's own URL as other gateways and `chainlanes fleet` reach it. */
  advertiseUrl,
  /** The member lease's TTL: a gateway cut off from etcd stops admitting within it. */
  leaseTtlSeconds: integer(2, 300, 'seconds').default(10),
  /** Subtracted from the TTL counted by the gateway's own clock (it fences itself this much early). */
  leaseMarginMs: ms(50, 60_000).default(1_500),
  /** Chains named in one claim transaction (etcd's --max-txn-ops is 128 sub-operations by default). */
  claimBatch: integer(1, 127, 'chains').default(100),
  /** New chains waiting for a claim, at most; past it a new chain's first frame gets `busy`. */
  maxQueuedClaims: integer(1, undefined, 'chains').default(10_000),
  /** A handoff not committed within this is aborted by the owner (it reclaims the chain). */
  handoffDeadlineMs: ms(1_000).default(60_000),
  /** How often the load report (placed demand, busiest chains) is written. */
  loadReportMs: ms(500).default(5_000),
  /** Most chains the ownership table holds. */
  maxChains: integer(1, undefined, 'chains').default(1_000_000),
  // Standby replicas (docs/replicas.md part 1). With the default 0 nothing of them runs.
  /** Standbys per gateway: 0 (none, `committed` = on this machine's disk) or 1. */
  replicas: z.union([z.literal(0), z.literal(1)], { error: REPLICAS_RULE }).default(0),
  /** The standby lost: hold `committed` and answer `busy` ("wait"), or go on and say `alone: true` ("alone"). */
  whenStandbyLost: z.enum(STANDBY_LOST_CHOICES, { error: `one of ${STANDBY_LOST_CHOICES.map((c) => JSON.stringify(c)).join(', ')}` }).default('wait'),
  /** No acknowledgement this long while seals are outstanding (or no standby named) = the standby is lost. */
  standbyLostAfterMs: ms(100, 600_000).default(5_000),
  /** Sealed but not yet acknowledged by the standby, at most; past it admission answers `busy` whatever whenStandbyLost says. */
  maxUnreplicatedBytes: integer(1024 * 1024, undefined, 'bytes').default(256 * 1024 * 1024),
  /** Owners this gateway stands by for, at most. */
  maxStandbyFor: integer(1, 64, 'owners').default(1),
  /** This gateway's machine: a standby is never on its owner's machine (compared by this name). */
  machine: machineName.default(() => defaultMachine()),
});

/** A gateway in a fleet (`fleet` in the gateway's config; absent: a gateway on its own, as before). */
export const GatewayFleetSchema = GatewayFleetFields.refine((f) => f.leaseMarginMs * 2 < f.leaseTtlSeconds * 1000, {
  error: 'fleet.leaseMarginMs must be under half of fleet.leaseTtlSeconds',
});

/** What one source (a config file) may say of `fleet`: any of its keys, the rest coming from others. */
export const PartialFleetSchema = GatewayFleetFields.partial().extend({ etcd: EtcdSettingsSchema.partial().optional() });

export type EtcdSettings = z.output<typeof EtcdSettingsSchema>;
export type GatewayFleetSettings = z.output<typeof GatewayFleetSchema>;

/** `chainlanes fleet run`: the fleet balancer's rules (DESIGN.md "Fleet", mirroring the lane balancer's). */
export const FleetBalancerSchema = z.strictObject({
  /** A gateway carries at most this fraction of its capacity in placed demand. */
  headroom: atLeast(0.05, "fraction of a gateway's capacity").max(1, { error: 'a number from 0.05 to 1' }).default(0.8),
  /** A gateway must be over the headroom this long before a chain moves off it (a burst is not a trend). */
  overloadedForMs: ms(0).default(30_000),
  /** A moved chain stays where it went at least this long. */
  chainCooldownMs: ms(0).default(600_000),
  /** A gateway that gave or took a chain is left alone this long (its load reports must show the move first). */
  gatewayCooldownMs: ms(0).default(60_000),
  /** At most this many moves per hour, fleet-wide: each costs a handoff. */
  maxMovesPerHour: integer(0, undefined, 'moves').default(60),
  /** A load report older than this is not trusted (the gateway is gone or stuck). */
  staleReportMs: ms(1_000).default(30_000),
  /** How often the leader decides. */
  everyMs: ms(100).default(5_000),
  /** Fleet events kept in etcd for `chainlanes fleet events`. */
  eventsKept: integer(10, 100_000, 'events').default(1_000),
});

export type FleetBalancerSettings = z.output<typeof FleetBalancerSchema>;
export const DEFAULT_FLEET_BALANCER: FleetBalancerSettings = FleetBalancerSchema.parse({});
