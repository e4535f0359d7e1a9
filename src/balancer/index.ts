// The front door's side of balancing: each chain's fair share of its lane's
// capacity, the pins and decisions kept in the store and shown to operators,
// and the cores the front door itself runs on as the heavy lane fills.
export { BalancerLog, type BalancerLogOptions } from './balancer-log.js';
export { FairShare, CONTENDED_BACKLOG_FRAMES, type FairShareSettings } from './fair-share.js';
export { FrontDoorCores } from './front-door-cores.js';
