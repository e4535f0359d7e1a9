// Which cores the front door thread may run on, as the load changes.
//
// A layout may give the front door more cores while no chain is heavy
// (CoreLayout.frontdoorQuiet: on two cores, both). Quiet, its latency is the
// whole story, and a thread free to move lets the kernel run it beside, not
// behind, the clients it wakes. As soon as one chain is in the heavy lane the
// front door goes back to its own cores, so a flood's lane cannot take them.
// The scheduler says when: every balance event counts the heavy lane's
// chains, and a chain moved into it pins the front door at once. A chain
// leaves the heavy lane only after demoteAfterMs of low rates, which keeps
// the front door from flapping between the two.
import type { Logger } from '../log/index.js';
import { HEAVY } from '../ring/index.js';
import { sameCores, type CoreLayout, type SchedulerEvent } from '../scheduler/index.js';

export class FrontDoorCores {
  private readonly layout: Pick<CoreLayout, 'frontdoor' | 'frontdoorQuiet'>;
  private readonly pin: (cores: number[]) => void;
  private readonly log: Logger;
  /** null until the first decision; the thread starts on layout.frontdoor. */
  private quiet: boolean | null = null;

  constructor(layout: Pick<CoreLayout, 'frontdoor' | 'frontdoorQuiet'>, pin: (cores: number[]) => void, log: Logger) {
    this.layout = layout;
    this.pin = pin;
    this.log = log;
  }

  /** Whether the layout gives the quiet front door other cores at all. */
  get moves(): boolean {
    return !sameCores(this.layout.frontdoor, this.layout.frontdoorQuiet);
  }

  /** The cores the front door runs on now. */
  get cores(): number[] {
    return this.quiet === true ? this.layout.frontdoorQuiet : this.layout.frontdoor;
  }

  onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === 'balance') this.heavyChains(event.lanes[HEAVY]?.chains ?? 0);
    else if (event.type === 'lane-change' && event.to === HEAVY) this.heavyChains(1);
  }

  private heavyChains(count: number): void {
    const quiet = count === 0;
    if (!this.moves || quiet === this.quiet) return;
    this.quiet = quiet;
    this.pin(this.cores);
    this.log.info(
      { event: 'frontdoor-cores', cores: this.cores, heavyChains: count },
      `front door on cores [${this.cores.join(',')}]: ${quiet ? 'no chain is heavy' : 'a chain is in the heavy lane'}`,
    );
  }
}
