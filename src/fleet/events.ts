// The fleet's decisions, explained (`chainlanes fleet events`): every move
// with its reason and the numbers behind it, every overload no move could
// relieve, leadership changes. Kept in etcd under `events/`, so any operator
// machine can read them and they outlive the instance that decided; bounded
// to the last `kept` (older ones are deleted as new ones come).
import type { EtcdClient, Revision } from './etcd.js';
import { decodeEvent, encode, isInvalid, type FleetEvent, type FleetKeys } from './keys.js';

/** Pruning runs once this many events were added past the bound (not on every append). */
const PRUNE_SLACK = 50;

export class FleetEvents {
  private count = 0;

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly source: string,
    private readonly kept: number,
  ) {}

  /** Writes one event; resolves with its revision (what `fleet events --since` counts by). */
  async add(event: Omit<FleetEvent, 'at' | 'source'> & { at?: number }): Promise<Revision> {
    const full: FleetEvent = { ...event, at: event.at ?? Date.now(), source: this.source };
    const revision = await this.client.put(this.keys.event(full.at, this.source, ++this.count), encode(full));
    if (this.count % PRUNE_SLACK === 0) await this.prune();
    return revision;
  }

  /** Deletes the oldest events past the bound. */
  async prune(): Promise<number> {
    const all = await this.client.range(this.keys.events, { prefix: true, countOnly: true });
    const excess = all.count - this.kept;
    if (excess <= 0) return 0;
    const oldest = await this.client.range(this.keys.events, { prefix: true, keysOnly: true, limit: excess });
    const last = oldest.kvs.at(-1);
    if (last === undefined) return 0;
    return (await this.client.delete(this.keys.events, { end: last.key + '\0' })).deleted;
  }
}

/** The events kept, oldest first, each with the revision it was written at; `since`: only later ones. */
export async function readEvents(client: EtcdClient, keys: FleetKeys, since: Revision = 0): Promise<(FleetEvent & { revision: Revision })[]> {
  const { kvs } = await client.rangeAll(keys.events);
  const out: (FleetEvent & { revision: Revision })[] = [];
  for (const kv of kvs) {
    if (kv.modRevision <= since) continue;
    const event = decodeEvent(kv.value);
    if (!isInvalid(event)) out.push({ ...event, revision: kv.modRevision });
  }
  return out;
}
