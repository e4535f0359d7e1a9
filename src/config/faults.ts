// Fault injection, for tests of failure handling only. It is deliberately not
// part of GatewayConfig: a config file or a flag can never turn it on. The CLI
// reads it from one environment variable that nobody sets by accident.
import { z } from 'zod';
import { ConfigError, integer, parseWith } from '../validation/index.js';

export const TEST_FAULTS_ENV = 'CHAINLANES_TEST_FAULTS';

export const FaultInjectionSchema = z.strictObject({
  /** Every lane worker exits on this task (0 = never). */
  crashWorkerAfterTasks: integer(0, undefined, 'tasks; 0 = never').default(0),
  /** After this many successful seals, the next `failSealAttempts` store transactions fail. */
  failSealsAfter: integer(0, undefined, 'seals').default(0),
  failSealAttempts: integer(0, undefined, 'failed seal transactions').default(0),
  /** The sealer copies records out of the lane rings (freeing their space) at most once per this many ms (0 = whenever it can): a small ring then fills for certain. */
  sealerDrainEveryMs: integer(0, undefined, 'ms; 0 = whenever it can').default(0),
  /** The anchor thread SIGKILLs the process once this many fee bumps are stored, before the last is sent (0 = never). */
  killAnchorAfterBumpStored: integer(0, undefined, 'fee bumps').default(0),
});

export type FaultInjection = z.output<typeof FaultInjectionSchema>;

export const NO_FAULTS: Readonly<FaultInjection> = Object.freeze(FaultInjectionSchema.parse({}));

/** The faults `CHAINLANES_TEST_FAULTS` asks for (JSON, e.g. {"failSealsAfter":1,"failSealAttempts":4}); none when unset. */
export function faultsFromEnv(env: NodeJS.ProcessEnv): FaultInjection {
  const text = env[TEST_FAULTS_ENV];
  if (text === undefined || text === '') return NO_FAULTS;
  const source = `environment ${TEST_FAULTS_ENV}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([
      `${source}: ${JSON.stringify(text)} is not allowed: expected a JSON object such as {"failSealsAfter":1,"failSealAttempts":4} (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  return parseWith(FaultInjectionSchema, value, source);
}

export function hasFaults(faults: FaultInjection): boolean {
  return Object.values(faults).some((n) => n > 0);
}
