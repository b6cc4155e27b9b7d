// The appliances list and one appliance's page: status and why, endpoint, rotation, each node's
// health (as its management agent last said, for those allowed to see backends), scale and
// delete, and hourly usage charts from the metering records (GET /v1/usage per hour).

import { all, call, describe } from "./api.js";
import { badge, byId, bytes, esc, num, table } from "./dom.js";
import { barChart } from "./charts.js";
import { poll } from "./poll.js";

/** @typedef {import("./types.js").Appliance} Appliance */
/** @typedef {import("./types.js").ApiNode} ApiNode */

const HOURS = 12;

/** The hash of an appliance's page.
 * @param {{name: string, account: string}} app
 * @returns {string}
 */
export function pageOf(app) {
  return `#/appliance/${encodeURIComponent(app.name)}?account=${encodeURIComponent(app.account)}`;
}

/** The appliances list, polled.
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function showList(root) {
  root.innerHTML = `<h1>Appliances</h1><p><a class="button" href="#/create">Create an appliance</a>
    </p><div id="apps" aria-live="polite"><p class="empty">Loading…</p></div>`;
  return poll(async () => {
    try {
      /** @type {Appliance[]} */
      const apps = await all("/v1/appliances");
      byId("apps").innerHTML = table([
        ["name", (a) => `<a href="${esc(pageOf(a))}">${esc(a.name)}</a>`],
        ["customer", (a) => esc(a.account)],
        ["service", (a) => esc(`${a.provider}/${a.service}`)],
        ["subnet", (a) => esc(a.subnet)],
        ["status", (a) => badge(a.status)],
        ["backends", (a) => `${a.backend_count}/${a.desired_backends}`],
        ["endpoint", (a) => esc(`${a.endpoint.ip ?? "-"}:${a.endpoint.port}`)],
      ], apps, "No appliances yet.");
    } catch (err) {
      byId("apps").innerHTML = `<p class="error">${esc(describe(err))}</p>`;
    }
  }, 3000);
}

/** A node's health as its management agent last said it.
 * @param {ApiNode} node
 * @returns {string}
 */
function agentSays(node) {
  const m = node.management;
  if (!m) return `<span class="muted">not reported</span>`;
  if (m.reachable === false) return `<span class="bad">agent unreachable</span>`;
  if (!m.workload) return `<span class="muted">reachable, no workload</span>`;
  return m.workload.ok ? `<span class="good">healthy</span> <span class="muted">` +
    `${esc(m.workload.detail)}</span>` : `<span class="bad">failing: ${esc(m.workload.detail)}</span>`;
}

/** The backend addresses in the front-end's rotation, when the API shows them (its
 * `management.rotation`, to the provider and the operator), else null.
 * @param {Appliance} app
 * @returns {string[] | null}
 */
function inRotation(app) {
  return app.frontend?.management?.rotation ?? null;
}

/** What the rotation holds: the backends by name when the front-end's map is shown, else as
 * far as the status tells (ready means every live backend is in it; degraded says how many).
 * @param {Appliance} app
 * @returns {string}
 */
function rotation(app) {
  const ips = inRotation(app);
  if (ips !== null) {
    const names = app.backends.filter((b) => ips.includes(b.interfaces[0]?.ip ?? ""))
      .map((b) => b.name);
    return `${names.length} of ${app.backends.length} backends` +
      (names.length ? `: ${names.join(", ")}` : "");
  }
  const m = /(\d+)\/(\d+) backends in rotation/.exec(app.status_detail);
  if (m) return `${m[1]} of ${m[2]} backends`;
  if (app.status === "ready") return `all ${app.backend_count} backends`;
  return "unknown while " + app.status;
}

/** @param {Appliance} app */
function nodesTable(app) {
  const nodes = [app.frontend, ...app.backends].filter((n) => n !== null);
  const ips = inRotation(app);
  return table([
    ["node", (n) => esc(n.name)],
    ["role", (n) => esc(n.role)],
    ["owner", (n) => esc(n.account)],
    ["addresses", (n) => n.interfaces.map((i) => `${esc(i.name)} ${esc(i.ip)} ` +
      `<span class="muted">${esc(i.subnet)}</span>`).join("<br>")],
    ["status", (n) => badge(n.status)],
    ["health", agentSays],
    ...(ips === null ? [] : /** @type {Array<[string, (n: ApiNode) => string]>} */ ([[
      "rotation", (n) => n.role !== "backend" ? "" : ips.includes(n.interfaces[0]?.ip ?? "")
        ? `<span class="good">in</span>` : `<span class="bad">out</span>`]])),
  ], /** @type {ApiNode[]} */ (nodes), "No nodes.");
}

/** @param {Appliance} app */
function details(app) {
  const chain = [...app.uses.map((u) => `calls ${u}`), ...app.used_by.map((u) => `called by ${u}`)];
  return `<dl class="facts">
    <dt>status</dt><dd>${badge(app.status)} <span id="why">${esc(app.status_detail)}</span></dd>
    <dt>endpoint</dt><dd id="endpoint">${esc(app.endpoint.ip ?? "-")}:${app.endpoint.port}</dd>
    <dt>service</dt><dd>${esc(app.provider)}/${esc(app.service)}</dd>
    <dt>subnet</dt><dd>${esc(app.account)}/${esc(app.subnet)}</dd>
    <dt>backends</dt><dd id="count">${app.backend_count} of ${app.desired_backends} wanted</dd>
    <dt>rotation</dt><dd id="rotation">${esc(rotation(app))}</dd>
    ${chain.length ? `<dt>chain</dt><dd>${esc(chain.join(", "))}</dd>` : ""}
  </dl>`;
}

/** The last HOURS whole UTC hours, oldest first, as usage periods.
 * @returns {Array<{label: string, period: string}>}
 */
function hours() {
  const now = new Date();
  now.setUTCMinutes(0, 0, 0);
  const out = [];
  for (let i = HOURS - 1; i >= 0; i -= 1) {
    const start = new Date(now.getTime() - i * 3600_000);
    const end = new Date(start.getTime() + 3600_000);
    const iso = (/** @type {Date} */ d) => `${d.toISOString().slice(0, 13)}:00Z`;
    out.push({ label: `${start.toISOString().slice(11, 13)}h`, period: `${iso(start)}/${iso(end)}` });
  }
  return out;
}

/** Hourly usage charts of one appliance (bytes, connections, requests).
 * @param {Appliance} app
 * @returns {Promise<string>}
 */
async function usage(app) {
  const slots = hours();
  const rows = await Promise.all(slots.map(async (slot) => {
    const q = `period=${encodeURIComponent(slot.period)}&appliance=${encodeURIComponent(app.name)}`;
    /** @type {any[]} */
    const items = await all(`/v1/usage?${q}`);
    return items.filter((r) => r.customer === app.account);
  }));
  /** @param {(r: any) => number} pick */
  const bars = (pick) => rows.map((rs, i) => ({
    label: slots[i].label, value: rs.reduce((n, r) => n + pick(r), 0),
  }));
  return barChart("bytes in + out per hour (UTC)",
    bars((r) => Number(r.bytes_in) + Number(r.bytes_out)), bytes) +
    barChart("connections per hour", bars((r) => Number(r.connections)), num) +
    barChart("requests per hour", bars((r) => Number(r.requests)), num);
}

/** One appliance's page, polled.
 * @param {HTMLElement} root
 * @param {string} name
 * @param {URLSearchParams} query
 * @returns {() => void}
 */
export function showOne(root, name, query) {
  const account = query.get("account");
  const path = `/v1/appliances/${encodeURIComponent(name)}` +
    (account ? `?account=${encodeURIComponent(account)}` : "");
  root.innerHTML = `<h1>Appliance ${esc(name)}</h1>
    <div id="app-facts" aria-live="polite"><p class="empty">Loading…</p></div>
    <form id="scale" class="inline"><label>Backends
      <input id="scale-count" type="number" min="0" max="256" required></label>
      <button type="submit">Scale</button></form>
    <div class="inline"><button type="button" id="delete" class="danger">Delete…</button>
      <span id="confirm" hidden>Delete ${esc(name)} and all its nodes?
      <button type="button" id="delete-yes" class="danger">Yes, delete</button>
      <button type="button" id="delete-no">Keep it</button></span></div>
    <p id="app-msg" role="status"></p>
    <h2>Nodes</h2><div id="app-nodes"></div>
    <h2>Usage</h2><div id="app-usage" class="charts"><p class="empty">Loading…</p></div>`;
  const msg = byId("app-msg");
  /** @param {string} text @param {boolean} [bad] */
  const say = (text, bad = false) => { msg.textContent = text; msg.className = bad ? "error" : ""; };
  let seeded = false;
  let charted = false;
  // once deleted, the appliance is looked for in its customer's list (a GET of it would end
  // in a 404, which the browser logs as an error) until it is gone
  let deleting = false;
  let owner = account ?? "";  // the customer, as the last answer named it
  byId("scale").addEventListener("submit", async (e) => {
    e.preventDefault();
    const count = Number(/** @type {HTMLInputElement} */ (byId("scale-count")).value);
    try {
      await call("PATCH", path, { backends: count });
      say(`scaling to ${count} backends…`);
    } catch (err) { say(describe(err), true); }
  });
  byId("delete").addEventListener("click", () => { byId("confirm").hidden = false; });
  byId("delete-no").addEventListener("click", () => { byId("confirm").hidden = true; });
  byId("delete-yes").addEventListener("click", async () => {
    byId("confirm").hidden = true;
    try {
      await call("DELETE", path);
      deleting = true;
      say("deleting…");
    } catch (err) { say(describe(err), true); }
  });
  /** @type {() => void} */
  let stop = () => {};
  stop = poll(async () => {
    /** @type {Appliance | undefined} */
    let app;
    try {
      app = deleting ? (await all(`/v1/appliances?account=${encodeURIComponent(owner)}`))
        .find((a) => a.name === name) : await call("GET", path);
    } catch (err) {
      byId("app-facts").innerHTML = `<p class="error">${esc(describe(err))}</p>`;
      return;
    }
    if (app === undefined) {
      stop();
      say(`${name} is deleted: its nodes are gone.`);
      byId("app-facts").innerHTML = "";
      byId("app-nodes").innerHTML = "";
      return;
    }
    owner = app.account;
    byId("app-facts").innerHTML = details(app);
    byId("app-nodes").innerHTML = nodesTable(app);
    if (!seeded) {
      /** @type {HTMLInputElement} */ (byId("scale-count")).value = String(app.desired_backends);
      seeded = true;
    }
    if (!charted) {
      charted = true;
      try { byId("app-usage").innerHTML = await usage(app); } catch (err) {
        byId("app-usage").innerHTML = `<p class="error">${esc(describe(err))}</p>`;
      }
    }
  }, 1500);
  return () => stop();
}
