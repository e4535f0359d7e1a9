// What the fleet's start-up phase (fleet.ts) gives the later ones: a type of
// its own, so the phases that only hold it (intake, the views, the handoff
// routes) import no phase's code.
import type { FleetDirectory, FleetNode, GatewayFleetSettings, LoadReport } from '../fleet/index.js';
import type { ChainOwnership } from '../frontdoor/index.js';
import type { SealingGateway } from '../ledger/index.js';

export interface FleetParts {
  settings: GatewayFleetSettings;
  node: FleetNode;
  /** Accounts and keys fleet-wide (authenticated mode); null in open mode. */
  directory: FleetDirectory | null;
  /** What admission asks per frame, and how it claims a new chain. */
  ownership: ChainOwnership;
  /** This gateway as the directory proofs of its blocks name it: its fleet id and SHA-256 of its store identity. */
  self: SealingGateway;
  /** Where the load reports come from, once the lanes run (connectFleet). */
  reportLoad(source: () => LoadReport | null): void;
}
