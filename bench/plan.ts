// Who sends what: chains with a Zipf-like spread of rates, their connections,
// and which load-client process runs each connection. Every target gets the
// same plan, so the only thing that differs between runs is the gateway.

export type ChainClass = 'heavy' | 'light';

export interface ConnSpec {
  chain: string;
  cls: ChainClass;
  /** Entries per frame. */
  batch: number;
  /** Frames in flight at most. A full-speed connection keeps this many in flight. */
  window: number;
  /** Frames per second on a fixed schedule (open loop); undefined = full speed (closed loop). */
  rateFps?: number;
}

export interface Plan {
  chains: { name: string; cls: ChainClass; share: number; connections: number; rateFps?: number }[];
  /** One list of connections per load-client process. */
  workers: ConnSpec[][];
}

export interface ZipfShape {
  chains: number;
  connections: number;
  batch: number;
  inflight: number;
  zipf: number;
  lightRate: number;
  workers: number;
}

/** Paced connections may fall this far behind before frames are skipped instead of queued. */
const PACED_WINDOW = 1000;

/** A per-run prefix, so runs against a long-lived gateway (--url) never share chains. */
export function chainPrefix(): string {
  return `bench-${Date.now().toString(36)}`;
}

/** Splits `total` into integer parts proportional to `weights` (largest remainder). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  const order = exact.map((e, i) => ({ i, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac);
  const missing = total - parts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) {
    const idx = order[k % order.length]?.i ?? 0;
    parts[idx] = (parts[idx] ?? 0) + 1;
  }
  return parts;
}

/**
 * The default load. Chain i gets weight 1/(i+1)^s. A chain that deserves at least
 * twice a fair share (1/chains) is heavy: it sends at full speed over several
 * connections (more for heavier chains), measuring capacity. The others are light:
 * one connection each on a fixed schedule, the busiest at `lightRate` frames/s and
 * the rest scaled down by weight — the many small tenants whose latency matters.
 */
export function zipfPlan(shape: ZipfShape, prefix: string): Plan {
  const weights = Array.from({ length: shape.chains }, (_, i) => 1 / (i + 1) ** shape.zipf);
  const total = weights.reduce((a, b) => a + b, 0);
  const heavy = weights.map((w) => w / total >= 2 / shape.chains);
  const heavyIdx = weights.map((_, i) => i).filter((i) => heavy[i]);
  const extra = apportion(
    Math.max(0, shape.connections - shape.chains),
    heavyIdx.map((i) => weights[i] ?? 0),
  );
  const firstLight = weights.find((_, i) => !heavy[i]) ?? 1;

  const chains: Plan['chains'] = [];
  const conns: ConnSpec[] = [];
  weights.forEach((w, i) => {
    const name = `${prefix}-${String(i).padStart(3, '0')}`;
    if (heavy[i]) {
      const n = 1 + (extra[heavyIdx.indexOf(i)] ?? 0);
      chains.push({ name, cls: 'heavy', share: w / total, connections: n });
      for (let k = 0; k < n; k++) conns.push({ chain: name, cls: 'heavy', batch: shape.batch, window: shape.inflight });
    } else {
      const rateFps = (shape.lightRate * w) / firstLight;
      chains.push({ name, cls: 'light', share: w / total, connections: 1, rateFps });
      conns.push({ chain: name, cls: 'light', batch: shape.batch, window: PACED_WINDOW, rateFps });
    }
  });
  return { chains, workers: assign(conns, shape.workers) };
}

export interface IsolationShape {
  lightChains: number;
  lightRate: number;
  floodConnections: number;
  batch: number;
  inflight: number;
  workers: number;
}

/** Isolation: light chains sending single-entry frames on a schedule, plus optionally one flooding chain. */
export function isolationPlan(shape: IsolationShape, prefix: string, flood: boolean): Plan {
  const chains: Plan['chains'] = [];
  const conns: ConnSpec[] = [];
  for (let i = 0; i < shape.lightChains; i++) {
    const name = `${prefix}-light-${String(i).padStart(3, '0')}`;
    chains.push({ name, cls: 'light', share: 0, connections: 1, rateFps: shape.lightRate });
    conns.push({ chain: name, cls: 'light', batch: 1, window: PACED_WINDOW, rateFps: shape.lightRate });
  }
  if (flood) {
    const name = `${prefix}-flood`;
    chains.push({ name, cls: 'heavy', share: 1, connections: shape.floodConnections });
    for (let k = 0; k < shape.floodConnections; k++) {
      conns.push({ chain: name, cls: 'heavy', batch: shape.batch, window: shape.inflight });
    }
  }
  return { chains, workers: assign(conns, shape.workers) };
}

/**
 * With two or more client processes, all light connections share one process
 * and the heavy ones get the rest: otherwise a light chain's reply would wait
 * behind the heavy replies its process is busy decoding, and we would measure
 * the client. Light chains stay on one process even when there is no heavy
 * traffic, so the isolation scenario's two phases use the same light client.
 */
export function assign(conns: readonly ConnSpec[], workers: number): ConnSpec[][] {
  const light = conns.filter((c) => c.cls === 'light');
  const heavy = conns.filter((c) => c.cls === 'heavy');
  if (workers < 2 || light.length === 0) return roundRobin(conns, Math.min(workers, conns.length));
  return [light, ...roundRobin(heavy, Math.min(workers - 1, heavy.length))];
}

function roundRobin(conns: readonly ConnSpec[], n: number): ConnSpec[][] {
  const out: ConnSpec[][] = Array.from({ length: Math.max(1, n) }, () => []);
  conns.forEach((c, i) => out[i % out.length]?.push(c));
  return out.filter((w) => w.length > 0);
}

/** Two (or more) floods: the isolation shape's light chains, and `floods` chains sharing the flood connections. */
export function floodsPlan(shape: IsolationShape & { floods: number }, prefix: string, withFloods: boolean): Plan {
  const light = isolationPlan(shape, prefix, false);
  if (!withFloods) return light;
  const chains = [...light.chains];
  const conns = light.workers.flat();
  const perFlood = Math.max(1, Math.floor(shape.floodConnections / shape.floods));
  for (let f = 0; f < shape.floods; f++) {
    const name = `${prefix}-flood-${f}`;
    chains.push({ name, cls: 'heavy', share: 1 / shape.floods, connections: perFlood });
    for (let k = 0; k < perFlood; k++) conns.push({ chain: name, cls: 'heavy', batch: shape.batch, window: shape.inflight });
  }
  return { chains, workers: assign(conns, shape.workers) };
}
