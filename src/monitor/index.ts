// `chainlanes monitor`: watches gateways' signed heads like a Certificate
// Transparency monitor (docs/protocol.md §13.7), with the client's checks.
export { HeadMonitor, type MonitorOptions, type RoundResult } from './monitor.js';
export { EVIDENCE_EVENTS, type Evidence, type EvidenceEvent, type MonitorEvent } from './evidence.js';
export { MAX_ANSWER_BYTES } from './fetch.js';
