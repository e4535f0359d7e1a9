// The fleet balancer's leader: `balancer/leader`, created if absent on the
// candidate's own lease. The key vanishes with its holder's lease, and the
// others (watching it) campaign again at once. A leader leads only while its
// lease is live by its own clock, like a member admits: a leader cut off from
// etcd stops deciding before anyone else can start.
import type { Logger } from '../log/index.js';
import { cmp, type EtcdClient, type LeaseId } from './etcd.js';
import { decodeLeader, encode, type FleetKeys, type LeaderRecord } from './keys.js';
import { LeaseKeeper, type LeaseSettings } from './lease.js';
import { PrefixMirror } from './mirror.js';
import { errorMessage } from '../log/index.js';

/** Followers try again this often even without news from the watch (a missed delete must not strand the fleet). */
const CAMPAIGN_EVERY_MS = 2_000;

export class LeaderElection {
  private readonly keeper: LeaseKeeper;
  private readonly watch: PrefixMirror<LeaderRecord>;
  private leading = false;
  private timer: NodeJS.Timeout | null = null;
  private campaigning: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    readonly id: string,
    lease: LeaseSettings,
    private readonly log: Logger,
    private readonly changed: (leading: boolean, cause: string) => void = () => undefined,
  ) {
    this.keeper = new LeaseKeeper(client, lease, {
      attach: async () => undefined,
      changed: (state, cause) => {
        if (state !== 'live') this.setLeading(false, `lease ${state}: ${cause}`);
        else void this.campaign();
      },
    });
    this.watch = new PrefixMirror(client, keys.leader, (key) => (key === keys.leader ? 'leader' : null), decodeLeader, { maxEntries: 1, checkEveryMs: 2_000 });
    this.watch.listen({
      put: (_, entry) => this.observe(entry.lease),
      delete: () => {
        this.setLeading(false, 'the leader key was deleted');
        void this.campaign();
      },
    });
  }

  /** Whether this instance leads now: it holds the key and its lease is live by its own clock. */
  isLeader(now?: number): boolean {
    return this.leading && this.keeper.isLive(now);
  }

  /** The current leader's record, as watched. */
  leader(): LeaderRecord | null {
    return this.watch.get('leader')?.value ?? null;
  }

  async start(): Promise<void> {
    await this.keeper.start();
    for (;;) {
      try {
        await this.watch.start();
        break;
      } catch (error) {
        if (this.stopped) return;
        this.log.warn({ event: 'fleet-election', error: errorMessage(error) }, `cannot watch ${this.keys.leader} yet: ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
    await this.campaign();
    this.timer = setInterval(() => void this.campaign(), CAMPAIGN_EVERY_MS);
    this.timer.unref();
  }

  /** Gives the lead up (the key goes with the lease) and stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.watch.stop();
    this.setLeading(false, 'stopped');
    await this.keeper.stop(true);
  }

  private observe(lease: LeaseId): void {
    const mine = lease === this.keeper.lease && this.keeper.lease !== null;
    if (mine) this.setLeading(true, 'holds the leader key');
    else this.setLeading(false, `${this.leader()?.id ?? 'another instance'} leads`);
  }

  private campaign(): Promise<void> {
    this.campaigning ??= this.tryOnce().finally(() => {
      this.campaigning = null;
    });
    return this.campaigning;
  }

  private async tryOnce(): Promise<void> {
    const lease = this.keeper.lease;
    if (this.stopped || lease === null || !this.keeper.isLive()) return;
    const key = this.keys.leader;
    try {
      const result = await this.client.txn({
        compare: [cmp.version(key, '=', 0)],
        success: [{ put: { key, value: encode({ id: this.id, since: Date.now() } satisfies LeaderRecord), lease } }],
        failure: [{ range: { key } }],
      });
      const held = result.succeeded ? lease : result.responses[0]?.kind === 'range' ? result.responses[0].range.kvs[0]?.lease : undefined;
      if (held !== undefined) this.observe(held);
    } catch (error) {
      this.log.warn({ event: 'fleet-election', error: errorMessage(error) }, `campaign for ${key} failed: ${errorMessage(error)}`);
    }
  }

  private setLeading(leading: boolean, cause: string): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.changed(leading, cause);
  }
}
