// The one import point for test helpers: test files import from here only.
// (Thread and process fixtures import ledger.ts and hash.ts directly: they run
// outside vitest, and this module pulls vitest in.)
export { registerCleanup } from './cleanup.js';
export { flipByte, flipHex } from './bytes.js';
export { expectContiguousCommits } from './commits.js';
export {
  closeAll,
  cpuShare,
  httpRequest,
  openDescriptorsOf,
  tryStream,
  type ClientOptions,
  type ErrorBody,
  type HttpAnswer,
  type StreamAttempt,
} from './connections.js';
export {
  CLI,
  QUICK_TO_HEAVY,
  ROOT,
  StreamClient,
  freePort,
  parseLogLines,
  replyHashes,
  runCli,
  sleep,
  startGateway,
  type ChildGateway,
  type LogLine,
  type Reply,
  type StartOptions,
} from './gateway.js';
export { sha256, sha256Hex } from './hash.js';
export { MetricsText, type HistogramSeries, type Sample } from '../../bench/metrics-text.js';
export { corruptBlock, entryContent, makeBlock } from './ledger.js';
export { prng, seededBytes } from './random.js';
export { referenceTreeHash, splitHashes } from './reference.js';
export { tempDir } from './temp.js';
export { WITHOUT_SYS_NICE, mayRunRealtime } from './privileges.js';
export { startCreditGateway, upgradeAnswer, type Account, type Answer, type CreditGateway, type PolicyBody } from './credits.js';
export { ANVIL_CHAIN_ID, ANVIL_KEY, anvilBinary, startAnvil, type Anvil, type AnvilOptions } from './anvil.js';
export { ANCHOR_POLL, accountNonce, anchorConfig, anchorKeyFile, anchorWindows, mineUntil, poolHashes, setNextBaseFee, writeCommitted } from './anchoring.js';
export { makeCertificate, type TestCertificate } from './tls.js';
export { ETCD_BINARY, startEtcd, type EtcdCluster, type EtcdMember, type EtcdOptions } from './etcd.js';
export { startLab, type Lab, type LabSpec } from './netns.js';
export { HAPROXY_BINARY, haproxyPaths, startHaproxy, type Haproxy, type HaproxyPaths } from './haproxy.js';
export {
  MEMBER_FIXTURE,
  fleetRun,
  mirrorArgs,
  proxyFor,
  runCliAsync,
  startFleetGateway,
  startMemberProcess,
  type FleetGateway,
  type FleetGatewayOptions,
  type FleetProxy,
  type FleetRunProcess,
  type MemberProcess,
  type MemberProcessArgs,
  type MemberReport,
} from './fleet.js';
export { FleetWriter, expectStoresVerify, type WrittenReply } from './fleet-writer.js';
export { rewriteDirectory } from './history.js';
export { stableAddress } from './relay.js';
export { linesThenKill } from './kill.js';
