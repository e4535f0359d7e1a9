// Time-series charts with uPlot (served from the package: /lib/uplot/): a time
// axis, the unit on the value axis, a legend with each series' value (the
// newest, or the one under the pointer) and a read-out on hover. The window
// is five minutes; until five minutes have passed it fills from the left.
import uPlot from '/lib/uplot/uPlot.esm.js';
import { el } from '/web/common.js';

export const WINDOW_SECONDS = 5 * 60;
const HEIGHT = 170;

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

/** Seconds since the epoch as 13:04:05. */
export function clock(seconds) {
  return timeFormat.format(new Date(seconds * 1000));
}

/** 1234567 → "1.23M"; 0.0123 → "0.0123"; whole numbers below 1000 as they are. */
export function scaled(value) {
  if (value == null || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toPrecision(3)}k`;
  if (abs >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/**
 * One chart: `title` says what it shows, `unit` labels the value axis and the
 * legend's values, each of `series` is `{label, color, dash?}`. `log`: a
 * logarithmic value axis (latencies spread over decades); `levels`: names of
 * the values 0, 1, 2… (the lane chart), drawn as steps.
 */
export class TimeChart {
  constructor(box, { title, unit, series, log = false, levels = null }) {
    this.unit = unit;
    this.levels = levels;
    this.log = log;
    /** The time labels uPlot drew last: also in the figure's data-time-labels, for the DOM's readers (the browser test). */
    this.timeLabels = [];
    const target = el('div', { class: 'chart-plot' });
    this.figure = el('figure', { class: 'chart' }, el('figcaption', {}, title), target);
    box.append(this.figure);
    const width = () => Math.max(240, target.clientWidth || 480);
    const value = (u, v) => this.format(v);
    this.plot = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        legend: { live: true },
        // Off the chart the legend shows the newest values (uPlot would show none).
        hooks: {
          setLegend: [(u) => this.newestInLegend(u)],
          draw: [
            () => {
              this.figure.dataset.timeLabels = this.timeLabels.join(' ');
            },
          ],
        },
        cursor: { drag: { x: false, y: false } },
        scales: {
          // From the data itself: for a single point uPlot would offer a day's range.
          x: { time: true, range: (u) => fill(u.data[0]?.[0], u.data[0]?.at(-1)) },
          y: log
            ? { distr: 3, log: 10, range: (u, min, max) => (min == null ? [0.1, 10] : uPlot.rangeLog(min, max, 10, true)) }
            : levels
              ? { range: () => [-0.3, levels.length - 0.7] }
              : { range: (u, min, max) => [0, Math.max(1, (max ?? 0) * 1.1)] },
        },
        axes: [
          { space: 70, values: (u, splits) => (this.timeLabels = splits.map(clock)) },
          {
            label: unit,
            labelSize: 18,
            size: levels ? 70 : 56,
            // Lanes by name; on a log axis, decades only (uPlot would also mark 2…9 of each).
            ...(levels ? { splits: () => levels.map((_, i) => i) } : log ? { splits: (u, i, min, max) => decades(min, max) } : {}),
            // uPlot passes null for a tick it leaves unlabelled (on a crowded log axis).
            values: (u, splits) => splits.map((v) => (v == null ? '' : levels ? (levels[v] ?? '') : scaled(v))),
          },
        ],
        series: [
          { label: 'time', value: (u, v) => (v == null ? '–' : clock(v)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            value,
            spanGaps: false,
            ...(s.dash ? { dash: s.dash } : {}),
            ...(levels ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
          })),
        ],
      },
      [[], ...series.map(() => [])],
      target,
    );
    this.figure.dataset.series = series.map((s) => s.label).join('|');
    this.resize = () => this.plot.setSize({ width: width(), height: HEIGHT });
    window.addEventListener('resize', this.resize);
  }

  /** Removes the chart and lets it go (the chain view makes new ones for each chain). */
  destroy() {
    window.removeEventListener('resize', this.resize);
    this.plot.destroy();
    this.figure.remove();
  }

  format(v) {
    if (v == null) return '–';
    if (this.levels) return this.levels[v] ?? '–';
    return `${scaled(v)} ${this.unit}`;
  }

  /** `times` in ms since the epoch, `columns` one array of values per series (null: nothing measured). */
  set(times, columns) {
    // A logarithmic axis has no place for 0: such a point is drawn as a gap.
    const shown = (v) => (v == null || Number.isNaN(v) || (this.log && v <= 0) ? null : v);
    const data = [times.map((t) => t / 1000), ...columns.map((c) => c.map(shown))];
    this.plot.setData(data);
    this.figure.dataset.points = String(times.length);
    this.newestInLegend(this.plot);
  }

  newestInLegend(u) {
    const points = u.data?.[0]?.length ?? 0;
    if (u.cursor.idx == null && points > 0) u.setLegend({ idx: points - 1 }, false);
  }
}

/** The x range: five minutes from the first point until they have passed, then the last five minutes. */
function fill(min, max) {
  if (min == null || max == null) {
    const now = Date.now() / 1000;
    return [now, now + WINDOW_SECONDS];
  }
  return [Math.max(min, max - WINDOW_SECONDS), Math.max(min + WINDOW_SECONDS, max)];
}

/** The powers of ten from `min` to `max`. */
function decades(min, max) {
  const out = [];
  for (let e = Math.ceil(Math.log10(min) - 1e-9); e <= Math.floor(Math.log10(max) + 1e-9); e++) out.push(10 ** e);
  return out;
}
