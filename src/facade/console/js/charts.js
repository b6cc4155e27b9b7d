// Bar charts of usage over time, as SVG: one bar per interval, the tallest at the full height,
// each with its value as a tooltip and as text for screen readers.

import { esc } from "./dom.js";

/** @typedef {{label: string, value: number}} Bar */

/** A small bar chart.
 * @param {string} title
 * @param {Bar[]} bars oldest first
 * @param {(v: number) => string} format
 * @returns {string}
 */
export function barChart(title, bars, format) {
  const w = 360;
  const h = 120;
  const base = h - 18;
  const top = Math.max(1, ...bars.map((b) => b.value));
  const step = w / Math.max(1, bars.length);
  const total = bars.reduce((n, b) => n + b.value, 0);
  const body = bars.map((b, i) => {
    const bh = Math.round((b.value / top) * (base - 8));
    const x = i * step + 2;
    return `<rect class="bar" x="${x}" y="${base - bh}" width="${Math.max(1, step - 4)}" ` +
      `height="${bh}"><title>${esc(b.label)}: ${esc(format(b.value))}</title></rect>` +
      (i % 3 === 0 ? `<text class="tick" x="${x}" y="${h - 4}">${esc(b.label)}</text>` : "");
  }).join("");
  return `<figure class="chart"><figcaption>${esc(title)} <span class="muted">` +
    `(${esc(format(total))} in all)</span></figcaption><svg viewBox="0 0 ${w} ${h}" ` +
    `role="img" aria-label="${esc(title)}"><line class="axis" x1="0" y1="${base}" x2="${w}" ` +
    `y2="${base}"/>${body}</svg></figure>`;
}
