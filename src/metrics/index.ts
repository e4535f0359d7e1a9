// The gateway's Prometheus metrics: the catalogue, and the hot path's latency histogram.
export { GatewayMetrics, registerProcessMetrics, type MetricSources, type LaneReading } from './catalogue.js';
export { LatencyHistogram, LATENCY_BOUNDS } from './latency.js';
