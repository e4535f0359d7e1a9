// The balancer's decisions — chain moves, core moves, pins, lane table changes,
// calibrations, overloaded lanes — newest first. On arrival the page reads the
// recent ones from GET /v1/lanes/events, an operator route: the admin key, or
// in open mode a browser on the gateway's own machine. Anyone else is told why
// the list starts when the page opened. Then the live feed adds each new one
// (the same objects, with the same ids, so none is listed twice).
import { el, clear, api } from '/web/common.js';

export const MAX_MOVES_SHOWN = 200;

const KIND_NAMES = {
  'chain-move': 'chain move',
  'core-move': 'core move',
  pin: 'pin',
  unpin: 'unpin',
  table: 'lane table',
  calibration: 'calibration',
  overloaded: 'overloaded',
};

export class Moves {
  constructor(list, note) {
    this.list = list;
    this.note = note;
    this.byId = new Map();
  }

  /** The decisions made before the page opened, as far as this viewer may read them. */
  async loadEarlier() {
    const answer = await api(`/v1/lanes/events?limit=${MAX_MOVES_SHOWN}`);
    if (answer.ok) {
      for (const decision of answer.body.events) this.add(decision);
      this.note.textContent = `${answer.body.events.length} earlier decisions read from GET /v1/lanes/events; new ones are added as they are made.`;
      this.note.dataset.earlier = 'loaded';
    } else if (answer.status === 401 || answer.status === 403) {
      this.note.textContent =
        'Decisions made before this page opened are for the operator (GET /v1/lanes/events needs the admin key, or in open mode a browser ' +
        "on the gateway's own machine): listed here are those made since, about the chains this page shows and the lanes.";
      this.note.dataset.earlier = 'operator-only';
    } else {
      this.note.textContent = `Could not read earlier decisions: ${answer.body.error?.message ?? `HTTP ${answer.status}`}.`;
      this.note.dataset.earlier = 'failed';
    }
  }

  /** A decision as GET /v1/lanes/events and the feed's `events` give it; one already listed is skipped. */
  add(decision) {
    if (this.byId.has(decision.id)) return;
    const time = new Date(decision.at).toLocaleTimeString('en-GB', { hourCycle: 'h23' });
    const item = el(
      'li',
      { 'data-id': String(decision.id), 'data-kind': decision.kind, title: JSON.stringify(decision.numbers ?? {}) },
      el('span', { class: 'move-time' }, time),
      ' ',
      el('span', { class: 'move-kind' }, KIND_NAMES[decision.kind] ?? decision.kind),
      ' ',
      decision.reason,
    );
    if (decision.chain !== undefined) item.dataset.chain = decision.chain;
    this.byId.set(decision.id, item);
    // Newest first: before the first item with a smaller id.
    const after = [...this.list.children].find((li) => Number(li.dataset.id) < decision.id);
    this.list.insertBefore(item, after ?? null);
    while (this.list.children.length > MAX_MOVES_SHOWN) {
      const last = this.list.lastElementChild;
      this.byId.delete(Number(last.dataset.id));
      last.remove();
    }
  }

  /** The feed let decisions go before they were sent (more than its ring holds in a tick). */
  dropped(count) {
    this.list.prepend(el('li', { 'data-kind': 'dropped' }, `${count} decisions were made too fast to be sent here; GET /v1/lanes/events lists them`));
  }

  reset() {
    clear(this.list);
    this.byId.clear();
  }
}
