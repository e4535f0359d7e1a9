// The sealer's public face: the front door's handle on the sealer thread and
// what crosses between them. The doorbell and backlog protocol is control.ts.
export { Sealer, SealerDoorbell, type AdoptedHead, type SealerOptions } from './sealer.js';
export type { Cut, CutBlock, SealedBlock, SealerEvent, SealerHeads, SignedHeadEvent } from './sealer-messages.js';
