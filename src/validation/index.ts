// Checking settings from outside (config files, environment, flags, the lane
// table in the store): zod building blocks that say what they allow, and the
// one formatter of refusals. Shared by src/config and src/scheduler, so
// neither has to reach into the other.
export { ConfigError, WHEN_VALID, atLeast, integer, parseWith, text, tryParse } from './refusals.js';
export { readEd25519KeyFile, readOwnerOnlyFile } from './owner-only-file.js';
