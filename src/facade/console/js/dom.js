// Small DOM helpers shared by every page: escaping text into markup, building elements, and
// formatting numbers. Pages build their markup as strings of escaped text (fast for a few
// thousand elements) and attach behaviour afterwards.

/** Escape text for HTML or SVG markup (element content and quoted attributes).
 * @param {unknown} value
 * @returns {string}
 */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c] ?? c);
}

/** The element of this id, which the page's own markup guarantees.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no element #${id}`);
  return /** @type {T} */ (el);
}

/** A number with thousands separators (bytes, connections).
 * @param {number | string | null | undefined} n
 * @returns {string}
 */
export function num(n) {
  const v = Number(n ?? 0);
  return Number.isFinite(v) ? v.toLocaleString("en-US") : String(n);
}

/** A byte count in units a person reads.
 * @param {number} n
 * @returns {string}
 */
export function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** The markup of a status as a coloured badge.
 * @param {string} status
 * @returns {string}
 */
export function badge(status) {
  return `<span class="badge s-${esc(status)}">${esc(status)}</span>`;
}

/** A table of rows; each column a heading and how to render a row's cell (markup).
 * @template R
 * @param {Array<[string, (row: R) => string]>} columns
 * @param {R[]} rows
 * @param {string} empty what to say when there are no rows
 * @returns {string}
 */
export function table(columns, rows, empty) {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  const head = columns.map(([title]) => `<th scope="col">${esc(title)}</th>`).join("");
  const body = rows.map((row) => `<tr>${columns.map(([, cell]) => `<td>${cell(row)}</td>`)
    .join("")}</tr>`).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
