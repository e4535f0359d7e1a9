// A chain's own view: its rates, commit latency and lane over the last five
// minutes, blocks per minute, seqs, and (authenticated mode) credits burned
// per minute, from the feed's chain history (the page sends {"watch": name};
// the gateway answers `chain-history`, then a `chain-point` a second). Its
// recent entries, each with the proof check, are in the explorer below.
import { el, clear } from '/web/common.js';
import { TimeChart, WINDOW_SECONDS, scaled } from '/web/charts.js';
import { figures } from '/web/cards.js';

export class ChainView {
  /** `watch(name | null)` asks the feed for a chain's history. */
  constructor(section, watch) {
    this.section = section;
    this.watch = watch;
    this.name = null;
    this.series = null;
    this.credits = false;
  }

  /** `credits`: the gateway is in authenticated mode, so credits are burned and charted. */
  open(name, credits) {
    this.dropCharts();
    this.name = name;
    this.credits = credits;
    this.series = null;
    this.section.hidden = false;
    this.section.dataset.chain = name;
    const close = el('button', { type: 'button', class: 'link' }, 'close');
    close.addEventListener('click', () => this.close());
    this.summary = el('div', { class: 'chain-figures' }, el('p', {}, 'waiting for the first point…'));
    const charts = el('div', { class: 'charts' });
    clear(this.section).append(
      el('h2', {}, `Chain ${name} `, close),
      el(
        'p',
        { class: 'note' },
        'One point a second, the last five minutes. Its recent entries are in the explorer below: open one to check its proof in this browser.',
      ),
      this.summary,
      charts,
    );
    this.charts = {
      rate: new TimeChart(charts, {
        title: 'Entries per second, this chain',
        unit: 'entries/s',
        series: [
          { label: 'accepted', color: '#2e6ae6' },
          { label: 'committed', color: '#17803d', dash: [6, 3] },
        ],
      }),
      latency: new TimeChart(charts, {
        title: 'Commit latency, this chain: admission → block sealed (mean of the sampled frames)',
        unit: 'ms',
        log: true,
        series: [{ label: 'commit latency', color: '#b54708' }],
      }),
      lane: new TimeChart(charts, {
        title: 'Lane over time',
        unit: 'lane',
        levels: ['light', 'medium', 'heavy'],
        series: [{ label: 'lane', color: '#6941c6' }],
      }),
      blocks: new TimeChart(charts, { title: 'Blocks cut per minute, this chain', unit: 'blocks/min', series: [{ label: 'blocks', color: '#344054' }] }),
      ...(credits
        ? {
            credits: new TimeChart(charts, {
              title: 'Credits burned per minute, this chain (writes and paid reads)',
              unit: 'credits/min',
              series: [{ label: 'burned', color: '#b42318' }],
            }),
          }
        : {}),
    };
    this.watch(name);
    this.section.scrollIntoView({ block: 'start' });
  }

  close() {
    this.watch(null);
    this.dropCharts();
    this.name = null;
    this.section.hidden = true;
    clear(this.section);
  }

  dropCharts() {
    for (const chart of Object.values(this.charts ?? {})) chart.destroy();
    this.charts = {};
  }

  /** The feed (re)connected: ask again for the chain on show. */
  resume() {
    if (this.name !== null) this.watch(this.name);
  }

  /** `chain-history`: the whole series; `chain-point`: one more point. */
  onMessage(message) {
    if (message.chain !== this.name) return;
    if (message.type === 'chain-history') {
      this.lanes = message.lanes;
      this.series = message.series;
    } else if (this.series !== null) {
      for (const [column, values] of Object.entries(message.series)) this.series[column]?.push(...values);
      const keep = this.series.at.findIndex((at) => at >= this.series.at.at(-1) - WINDOW_SECONDS * 1000);
      if (keep > 0) for (const column of Object.keys(this.series)) this.series[column].splice(0, keep);
    }
    this.render();
  }

  onError(error) {
    if (this.name === null) return;
    clear(this.summary).append(el('p', { class: 'error' }, `the gateway refused this chain's history: ${error.message}`));
  }

  render() {
    const s = this.series;
    if (s === null || s.at.length === 0) return;
    const laneLevel = (lane) => (lane == null ? null : 2 - lane); // heavy (0) at the top
    this.charts.rate.set(s.at, [s.acceptedPerSec, s.committedPerSec]);
    this.charts.latency.set(s.at, [s.commitLatencyMs]);
    this.charts.lane.set(s.at, [s.lane.map(laneLevel)]);
    this.charts.blocks.set(s.at, [s.blocksPerMin]);
    this.charts.credits?.set(s.at, [s.creditsBurnedPerMin]);
    const last = s.at.length - 1;
    const latest = (column) => s[column][last];
    const newest = (column) => s[column].findLast((v) => v != null);
    const rows = [
      ['lane', this.lanes?.[latest('lane')] ?? '–', 'the lane the chain is in now'],
      ['accepted', `${scaled(latest('acceptedPerSec'))} entries/s`, 'entries accepted (sequenced, hashing under way) in the last second'],
      ['committed', `${scaled(latest('committedPerSec'))} entries/s`, 'entries made durable (their block sealed) in the last second'],
      ['bytes', `${scaled(latest('bytesPerSec'))} B/s`, "the balancer's moving average of the bytes this chain writes"],
      ['next seq', latest('nextSeq'), 'the seq the next entry gets'],
      ['committed seq', latest('committedSeq'), 'every entry below it is durable'],
      ['height', latest('height'), 'the newest block cut (−1: none)'],
      ['blocks per minute', scaled(newest('blocksPerMin')), 'blocks cut in the last second, per minute'],
      [
        'commit latency',
        newest('commitLatencyMs') == null ? '–' : `${scaled(newest('commitLatencyMs'))} ms`,
        'admission → block sealed, mean of the frames timed in the last second it had any',
      ],
    ];
    if (this.credits)
      rows.push([
        'credits burned',
        `${scaled(newest('creditsBurnedPerMin'))} /min`,
        'credits of this chain burned in the last second (writes and paid reads), per minute',
      ]);
    clear(this.summary).append(figures(rows));
  }
}
