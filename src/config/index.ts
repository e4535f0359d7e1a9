// The gateway's configuration: the schema (with every default), where
// settings come from, and how a refusal reads.
export { ConfigSchema, DEFAULT_CONFIG, PROCESS_BASELINE_BYTES, defaultConfig, memoryHeld, type GatewayConfig, type GatewayConfigInput } from './schema.js';
export { CONFIG_FILE_ENV, SWITCH_SETTINGS, TEXT_SETTINGS, readJsonFile, resolveConfig, type TextSetting } from './load.js';
export { validateConfig } from './validate.js';
export { checkTlsFiles, type TlsSettings } from './tls.js';
export { ConfigError, parseWith } from '../validation/index.js';
export { FaultInjectionSchema, NO_FAULTS, TEST_FAULTS_ENV, faultsFromEnv, hasFaults, type FaultInjection } from './faults.js';
export { REALTIME_NODE_FLAGS, missingRealtimeNodeFlags } from './realtime-node-flags.js';
