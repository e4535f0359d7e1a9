// Checks that need the whole config and the machine it runs on.
import { availableParallelism } from 'node:os';
import type { z } from 'zod';
import { LANE_NAMES } from '../ring/index.js';
import { customCoreLayout, defaultCoreLayout, type CoreLayout } from '../scheduler/index.js';
import { ConfigSchema, type GatewayConfig } from './schema.js';
import { WHEN_VALID, parseWith } from '../validation/index.js';

/**
 * Checks a whole config, also one built in code rather than resolved from
 * files and flags, against the schema and this machine's cores; returns the
 * core layout it implies.
 */
export function validateConfig(config: GatewayConfig, cpuCount = availableParallelism()): CoreLayout {
  const checked = parseWith(ConfigSchema.superRefine(coresExist(cpuCount), WHEN_VALID), config, 'config');
  const c = checked.cores;
  if (c === null) return defaultCoreLayout(cpuCount);
  const { threads } = c;
  return customCoreLayout(
    cpuCount,
    c.frontdoor,
    LANE_NAMES.map((lane) => c[lane]),
    threads === undefined ? undefined : LANE_NAMES.map((lane) => threads[lane]),
    c.sealer,
    c.frontdoorQuiet,
  );
}

function coresExist(cpuCount: number) {
  return (config: GatewayConfig, ctx: z.core.$RefinementCtx<GatewayConfig>): void => {
    const c = config.cores;
    if (c === null) return;
    const lists = { frontdoor: c.frontdoor, frontdoorQuiet: c.frontdoorQuiet ?? [], sealer: c.sealer ?? [], heavy: c.heavy, medium: c.medium, light: c.light };
    for (const [name, list] of Object.entries(lists)) {
      list.forEach((core, i) => {
        if (core < cpuCount) return;
        ctx.addIssue({ code: 'custom', path: ['cores', name, i], input: core, message: `a core of this ${cpuCount}-core machine, 0 to ${cpuCount - 1}` });
      });
    }
  };
}
