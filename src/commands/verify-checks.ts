// What `chainlanes verify` checks beside the ledger's own walk, loaded by the
// walk's child process (src/ledger/store-probe-process.ts): the credits (supply,
// burns per block) and every signed head's signature.
import { CreditCheck } from '../credits/index.js';
import { HeadSignatureCheck } from '../heads/index.js';
import type { StoreCheck, StoreChecksModule } from '../ledger/index.js';

export const storeChecks: StoreChecksModule['storeChecks'] = (): StoreCheck[] => [new CreditCheck(), new HeadSignatureCheck()];
