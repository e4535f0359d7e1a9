// A fleet of gateways (DESIGN.md "Fleet", docs/fleet.md): etcd decides who
// owns each chain, HAProxy routes each chain to its owner. This folder is the
// fleet's side of both: the etcd client, membership on a lease with fencing by
// the gateway's own clock, the ownership table a watch keeps current and the
// gate the front door asks per frame (no etcd call), batched claims, the
// handoff's conditional transactions, fleet-wide accounts and keys, the
// balancer election and its decisions, HAProxy's runtime API, map file and
// configuration, and the `chainlanes fleet` commands. It never imports the
// front door: the gateway wires the two together (docs/fleet.md "Integration").
export {
  DEFAULT_ETCD_OPTIONS,
  EtcdClient,
  EtcdError,
  cmp,
  prefixEnd,
  type Compare,
  type EtcdOptions,
  type KeyValue,
  type LeaseId,
  type RangeResult,
  type RequestOp,
  type Revision,
  type Txn,
  type TxnResult,
  type WatchEvent,
} from './etcd.js';
export {
  DEFAULT_PREFIX,
  FleetKeys,
  GATEWAY_ID_RULE,
  LOAD_REPORT_CHAINS,
  PREFIX_RULE,
  URL_RULE,
  decodeEvent,
  decodeLeader,
  decodeLoad,
  decodeMember,
  decodeOwner,
  encode,
  isAdvertiseUrl,
  isGatewayId,
  isInvalid,
  isMachineName,
  MACHINE_RULE,
  isPrefix,
  type Capacity,
  type ChainDemand,
  type Decoded,
  type FleetEvent,
  type LeaderRecord,
  type LoadReport,
  type MemberRecord,
  type OwnerRecord,
} from './keys.js';
export { LeaseKeeper, type LeaseSettings, type LeaseState } from './lease.js';
export { DEFAULT_MIRROR_OPTIONS, PrefixMirror, type MirrorEntry, type MirrorListener, type MirrorOptions } from './mirror.js';
export { FleetMember, MemberRefused, loadsMirror, membersMirror, type MemberSettings } from './membership.js';
export {
  ClaimBatcher,
  DEFAULT_CLAIM_SETTINGS,
  FleetGate,
  ownershipTable,
  reclaimChain,
  transferChain,
  type ClaimOutcome,
  type ClaimSettings,
  type GateMember,
  type MemberDirectory,
  type OwnershipTable,
  type TransferOutcome,
  type Verdict,
} from './ownership.js';
export {
  DEFAULT_HAPROXY_CONFIG,
  DEFAULT_RUNTIME_OPTIONS,
  HaproxyError,
  HaproxyRuntime,
  backendOf,
  haproxyConfig,
  writeMapFile,
  type HaproxyConfigOptions,
  type RuntimeOptions,
} from './haproxy.js';
export {
  DEFAULT_HANDOFF_SETTINGS,
  Handoffs,
  HttpGatewayApi,
  moveChain,
  type GatewayApi,
  type HandoffEnd,
  type HandoffHead,
  type HandoffSettings,
  type MoveOptions,
  type MoveOutcome,
} from './handoff.js';
export {
  DEFAULT_FLEET_BALANCER,
  EtcdSettingsSchema,
  FleetBalancerSchema,
  GatewayFleetFields,
  GatewayFleetSchema,
  PartialFleetSchema,
  STANDBY_LOST_CHOICES,
  type WhenStandbyLost,
  type EtcdSettings,
  type FleetBalancerSettings,
  type GatewayFleetSettings,
} from './settings.js';
export { FleetNode, type FleetNodeOptions } from './node.js';
export { clearTakeover, readTakeover, takeOverChains, type TakeoverOutcome, type TakeoverRecord, type TakeoverRequest } from './takeover.js';
export {
  StandbyNaming,
  clearAlone,
  decodeStandby,
  recordAlone,
  releaseStandby,
  standbyTable,
  type StandbyClaim,
  type StandbyRecord,
  type StandbySettings,
  type StandbyTable,
} from './standby.js';
export { FleetBalancer, type FleetDecision, type FleetMove, type GatewayLoad } from './balancer.js';
export { LeaderElection } from './election.js';
export { FleetEvents, readEvents } from './events.js';
export { DEFAULT_MIRROR_TIMING, HaproxyMirror, type HaproxyMirrorOptions } from './haproxy-mirror.js';
export { FleetRunner, type FleetRunOptions } from './runner.js';
export {
  etcdSettingsOf,
  moveByHand,
  numberFlag,
  printEvents,
  printHaproxyConfig,
  printStatus,
  readStatus,
  runFleet,
  type FleetIo,
  type FleetRunFlags,
  type FleetStatus,
  type HaproxyConfigFlags,
  type MoveFlags,
} from './commands.js';
export { FleetDirectory, decodeAccount, decodeKey, type DirectoryListener } from './directory.js';
