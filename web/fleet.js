// The fleet view (a gateway in a fleet only, docs/fleet.md): the gateways with
// their capacity, load and chains, owners that are away, and the fleet's
// latest moves with their reasons. The feed sends `fleet` with every message
// (null on a gateway of its own: the section stays hidden).
import { el, clear } from '/web/common.js';

export function renderFleet(fleet) {
  const section = document.getElementById('fleet-section');
  section.hidden = !fleet;
  if (!fleet) return;
  // Standby pairs (docs/replicas.md part 2), owner → standby; none without replicas.
  const pairs = (fleet.standbys ?? []).map((p) => `${p.owner} → ${p.standby}`).join(', ');
  document.getElementById('fleet-self').textContent = `this gateway: ${fleet.gateway} (${fleet.member})${pairs === '' ? '' : `; standbys: ${pairs}`}`;
  const body = clear(document.getElementById('fleet-members').tBodies[0]);
  for (const m of fleet.members) {
    const load = m.load === null ? 'no report' : `${(m.load * 100).toFixed(1)} %`;
    body.append(
      el(
        'tr',
        { 'data-gateway': m.id, class: m.self ? 'self' : '' },
        el('td', {}, m.id),
        el('td', {}, m.url),
        el('td', {}, m.capacityEntriesPerSec.toLocaleString()),
        el('td', {}, load),
        el('td', {}, String(m.chains)),
      ),
    );
  }
  for (const a of fleet.absent) {
    body.append(
      el(
        'tr',
        { 'data-gateway': a.id, class: 'bad' },
        el('td', {}, a.id),
        el('td', {}, 'not a live member: its chains wait for it'),
        el('td', {}, '–'),
        el('td', {}, '–'),
        el('td', {}, String(a.chains)),
      ),
    );
  }
  const moves = clear(document.getElementById('fleet-moves'));
  for (const move of fleet.moves) moves.append(el('li', { 'data-kind': move.kind }, `${new Date(move.at).toLocaleTimeString()} ${move.reason}`));
}
