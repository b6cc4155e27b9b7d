// The billing and events pages: simple tables of what the API answers. Billing: the account's
// invoice and statement for a month; the operator's ledger and trial balance too (and any
// account's invoice). Events: the newest events the account may see, polled.

import { all, call, describe } from "./api.js";
import { byId, esc, table } from "./dom.js";
import { poll } from "./poll.js";

/** A generic table of records: a column per key of the first one.
 * @param {any[]} rows
 * @param {string} empty
 * @returns {string}
 */
function records(rows, empty) {
  const keys = rows.length ? Object.keys(rows[0]) : [];
  return table(keys.map((k) => /** @type {[string, (r: any) => string]} */ ([k, (r) => {
    const v = r[k];
    return esc(typeof v === "object" && v !== null ? JSON.stringify(v) : v);
  }])), rows, empty);
}

/** @param {string} id @param {() => Promise<string>} make */
async function fill(id, make) {
  try { byId(id).innerHTML = await make(); } catch (err) {
    byId(id).innerHTML = `<p class="error">${esc(describe(err))}</p>`;
  }
}

/** @param {HTMLElement} root @param {{name: string, operator: boolean}} me */
export async function showBilling(root, me) {
  const month = new Date().toISOString().slice(0, 7);
  root.innerHTML = `<h1>Billing</h1><form id="bill" class="inline">
    <label>Period <input id="b-period" value="${month}" pattern="\\d{4}-\\d{2}" required></label>
    ${me.operator ? `<label>Account <select id="b-account"></select></label>` : ""}
    <button type="submit">Show</button></form>
    <h2>Invoice</h2><div id="invoice"></div>
    ${me.operator ? `<h2>Ledger</h2><div id="ledger"></div>` : ""}`;
  if (me.operator) {
    const accounts = await all("/v1/accounts");
    byId("b-account").innerHTML = accounts.map((a) => `<option${a.name === me.name ? " selected" : ""}>` +
      `${esc(a.name)}</option>`).join("");
  }
  const load = async () => {
    const period = /** @type {HTMLInputElement} */ (byId("b-period")).value;
    const account = me.operator ? /** @type {HTMLSelectElement} */ (byId("b-account")).value : me.name;
    await fill("invoice", async () => {
      const inv = await call("GET", `/v1/accounts/${encodeURIComponent(account)}/invoice?period=` +
        encodeURIComponent(period));
      return `<dl class="facts"><dt>account</dt><dd>${esc(inv.account)}</dd><dt>period</dt>` +
        `<dd>${esc(inv.period)}</dd><dt>status</dt><dd>${esc(inv.status)}</dd><dt>total</dt>` +
        `<dd id="invoice-total">${esc(inv.invoice?.total)} ${esc(inv.currency)}</dd></dl>` +
        records(inv.invoice?.lines ?? [], "No charges in this period.") +
        `<h3>Statement</h3><pre>${esc(inv.text ?? JSON.stringify(inv.statement, null, 2))}</pre>`;
    });
    if (me.operator) {
      await fill("ledger", async () => {
        const led = await call("GET", `/v1/billing/ledger?period=${encodeURIComponent(period)}`);
        return `<dl class="facts"><dt>trial balance</dt><dd id="trial-balance">` +
          `${esc(led.trial_balance)} ${esc(led.currency)}</dd><dt>transactions</dt>` +
          `<dd>${esc(led.transactions)}</dd><dt>billing runs</dt><dd>${esc(led.runs)}</dd></dl>` +
          records(led.accounts ?? [], "No ledger accounts.") +
          `<h3>Unbilled usage</h3>${records(led.unbilled ?? [], "Nothing unbilled.")}`;
      });
    }
  };
  byId("bill").addEventListener("submit", (e) => { e.preventDefault(); void load(); });
  await load();
}

/** @param {HTMLElement} root */
export function showEvents(root) {
  root.innerHTML = `<h1>Events</h1><label>Filter <input id="ev-filter" type="search"
    placeholder="kind, object, text"></label><div id="events" aria-live="polite"></div>`;
  /** @type {any[]} */
  let events = [];
  const draw = () => {
    const q = /** @type {HTMLInputElement} */ (byId("ev-filter")).value.toLowerCase();
    const shown = events.filter((e) => !q || JSON.stringify(e).toLowerCase().includes(q));
    byId("events").innerHTML = table([
      ["time", (e) => esc(String(e.time).replace("T", " ").slice(0, 19))],
      ["kind", (e) => esc(e.kind)],
      ["object", (e) => esc(e.object)],
      ["account", (e) => esc(e.account ?? "")],
      ["message", (e) => esc(e.message)],
    ], shown, "No events.");
  };
  byId("ev-filter").addEventListener("input", draw);
  return poll(async () => {
    try {
      events = (await call("GET", "/v1/events?limit=200")).items;
      draw();
    } catch (err) {
      byId("events").innerHTML = `<p class="error">${esc(describe(err))}</p>`;
    }
  }, 3000);
}
