// The topology page: an SVG of networks > subnets > nodes from GET /v1/topology, with each
// appliance node's health from GET /v1/appliances (what its management agent last said), chains
// as arrows between front-ends, third-party front-ends and granted subnets marked, the caller's
// external hosts in a card of their own; or the same
// nodes grouped by the host they run on (hosts > NETWORK/SUBNET > nodes). It polls
// every 2 s and draws again only when something changed. Search, collapse per network and zoom
// keep hundreds of appliances readable.

import { all, call, describe } from "./api.js";
import { byId, esc } from "./dom.js";
import { byHost, cards, layout, netKey, search } from "./layout.js";
import { poll } from "./poll.js";

/** @typedef {import("./types.js").Topology} Topology */
/** @typedef {import("./types.js").TopoNode} TopoNode */
/** @typedef {import("./types.js").TopoAppliance} TopoAppliance */
/** @typedef {import("./types.js").TopoNetwork} TopoNetwork */
/** @typedef {import("./types.js").Appliance} Appliance */
/** @typedef {import("./types.js").Management} Management */
/** @typedef {import("./layout.js").Layout} Layout */
/** @typedef {import("./layout.js").NodeBox} NodeBox */

const POLL_MS = 2000;
const ZOOMS = [0.5, 0.67, 0.8, 1, 1.25, 1.5];

/** The page's state across redraws. */
const view = {
  /** @type {Set<string>} */ collapsed: new Set(),
  query: "",
  zoom: 3,
  byHost: false,
  /** @type {Topology | null} */ topo: null,
  /** @type {Map<string, Management | null>} */ health: new Map(),
  seen: "",
  seenHealth: "",
};

/** The node's health class: what its agent said of its workload, else its status.
 * @param {TopoNode} node
 * @returns {string}
 */
function health(node) {
  const mgmt = view.health.get(node.netns);
  if (mgmt?.workload?.ok === false || mgmt?.reachable === false) return "down";
  if (node.status !== "active") return node.status;
  return mgmt?.workload?.ok ? "up" : "active";
}

/** The appliance a node belongs to: by name, the one on this network's side when names repeat.
 * @param {TopoNode} node
 * @param {TopoNetwork} net
 * @returns {TopoAppliance | undefined}
 */
function applianceOf(node, net) {
  const apps = (view.topo?.appliances ?? []).filter((a) => a.name === node.appliance);
  return apps.find((a) => a.account === net.account || a.provider === net.account) ?? apps[0];
}

/** One node's chip: a link to its appliance's page for appliance nodes.
 * @param {NodeBox} box
 * @param {TopoNetwork} net
 * @param {string} subnet its path, NETWORK/SUBNET
 * @returns {string}
 */
function chip(box, net, subnet) {
  const { node } = box;
  const app = node.appliance ? applianceOf(node, net) : undefined;
  const thirdParty = node.role === "frontend" && app !== undefined && node.account !== app.provider;
  const guest = node.role === "instance" && node.account !== net.account;
  const marks = [thirdParty ? "third-party front-end" : "", guest ? "granted interface" : ""]
    .filter(Boolean);
  const h = health(node);
  // a front-end's leg in the customer's subnet is the endpoint; its other legs are addresses
  const customerSide = app !== undefined && app.account === net.account && app.subnet === subnet;
  const second = node.role === "frontend" && customerSide && app.endpoint
    ? `${app.endpoint} · ${app.name}`
    : node.public_ip ? `${node.ip} ⇄ ${node.public_ip}` : node.ip;
  const title = `${node.name} (${node.role}, ${node.account}) ${node.ip} ${h}` +
    (marks.length ? ` — ${marks.join(", ")}` : "");
  const body = `<title>${esc(title)}</title>` +
    `<rect class="chip r-${esc(node.role)}${marks.length ? " marked" : ""}" x="${box.x}" ` +
    `y="${box.y}" width="${box.w}" height="${box.h}" rx="6"/>` +
    `<circle class="h-${esc(h)}" cx="${box.x + 12}" cy="${box.y + 13}" r="5"/>` +
    `<text x="${box.x + 24}" y="${box.y + 17}" class="n">${esc(node.name)}` +
    `${marks.length ? " ◆" : ""}</text>` +
    `<text x="${box.x + 10}" y="${box.y + 33}" class="ip">${esc(second)}</text>`;
  const attrs = `class="node" data-node="${esc(node.name)}" data-role="${esc(node.role)}" ` +
    `data-health="${esc(h)}"${node.public_ip ? ` data-public-ip="${esc(node.public_ip)}"` : ""}`;
  if (!app) return `<g ${attrs} tabindex="0">${body}</g>`;
  const href = `#/appliance/${encodeURIComponent(app.name)}?account=${encodeURIComponent(app.account)}`;
  return `<a ${attrs} href="${esc(href)}">${body}</a>`;
}

/** The arrows of chains: from each appliance's front-end to the front-end of the one it calls.
 * @param {Layout} lay
 * @returns {string}
 */
function arrows(lay) {
  /** @type {Map<string, NodeBox>} */
  const fronts = new Map();
  for (const net of lay.networks) {
    for (const sub of net.subnets) {
      for (const box of sub.nodes) {
        if (box.node.role === "frontend" && box.node.appliance && !fronts.has(box.node.appliance)) {
          fronts.set(box.node.appliance, box);
        }
      }
    }
  }
  /** @type {Set<string>} */
  const edges = new Set();
  for (const app of view.topo?.appliances ?? []) {
    for (const to of app.uses) edges.add(`${app.name}\n${to}`);
    for (const from of app.used_by) edges.add(`${from}\n${app.name}`);
  }
  return [...edges].map((edge) => {
    const [from, to] = edge.split("\n");
    const a = fronts.get(from);
    const b = fronts.get(to);
    if (!a || !b) return "";
    const x1 = a.x + a.w / 2;
    const y1 = a.y + a.h;
    const x2 = b.x + b.w / 2;
    const y2 = b.y;
    const bend = Math.max(40, Math.abs(y2 - y1) / 2);
    return `<path class="chain" data-chain="${esc(`${from}->${to}`)}" marker-end="url(#arrow)" ` +
      `d="M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}"><title>` +
      `${esc(from)} calls ${esc(to)}</title></path>`;
  }).join("");
}

/** What a network's header says of its edge: a customer site, its public gateway, its
 * private channels (docs/edge.md).
 * @param {TopoNetwork} net
 * @returns {string}
 */
function edge(net) {
  const parts = [net.kind === "site" ? "customer site" : "",
    net.kind === "external" ? "your hosts on the Internet (facade external)" : "",
    net.public_gateway ? `public gateway ${net.gateway_ip ?? ""}` : "",
    ...(net.vpns ?? []).map((v) => `channel ${v.name} ⇄ ${v.peer}`)].filter(Boolean);
  return parts.length ? `  ${parts.join(" · ")}` : "";
}

/** Private channels as dashed links between the two networks' headers, on the right.
 * @param {Layout} lay
 * @returns {string}
 */
function channels(lay) {
  /** @type {Set<string>} */
  const drawn = new Set();
  const out = [];
  for (const box of lay.networks) {
    for (const v of box.network.vpns ?? []) {
      const peer = lay.networks.find((b) => b.network.name === v.peer &&
        b.network.account === box.network.account);
      if (!peer || drawn.has(v.name)) continue;
      drawn.add(v.name);
      const x = box.x + box.w - 40;
      const [y1, y2] = [box.y + 17, peer.y + 17];
      out.push(`<path class="channel" data-channel="${esc(v.name)}" d="M${x},${y1} ` +
        `C${x + 30},${y1} ${x + 30},${y2} ${x},${y2}"><title>channel ${esc(v.name)}: ` +
        `${esc(box.network.name)} ⇄ ${esc(v.peer)}</title></path>`);
    }
  }
  return out.join("");
}

/** The SVG markup of a layout.
 * @param {Layout} lay
 * @returns {string}
 */
function svg(lay) {
  const scale = ZOOMS[view.zoom];
  const parts = [];
  for (const box of lay.networks) {
    const net = box.network;
    const sign = box.collapsed ? "▸" : "▾";
    parts.push(`<g class="network" data-network="${esc(box.key)}">` +
      `<rect class="net" x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="8"/>` +
      `<text class="net-title" x="${box.x + 12}" y="${box.y + 22}">${sign} ${esc(net.name)}` +
      `<tspan class="muted"> ${esc(net.account)} · ${esc(net.cidr)}` +
      `${box.collapsed ? ` · ${net.subnets.length} subnets, ${box.count} nodes` : ""}` +
      `</tspan><tspan class="mark">${esc(edge(net))}</tspan></text>`);
    for (const sub of box.subnets) {
      const s = /** @type {import("./layout.js").Band} */ (sub.subnet);
      const path = s.origin ? s.name : `${net.name}/${s.name}`;  // grouped by host: NET/SUBNET
      const marks = [...s.internal.map((why) => `internal: ${why}`),
        ...(s.granted_to.length ? [`granted to ${s.granted_to.join(", ")}`] : [])];
      parts.push(`<g class="subnet" data-subnet="${esc(path)}">` +
        `<rect class="sub" x="${sub.x + 6}" y="${sub.y}" width="${sub.w - 12}" ` +
        `height="${sub.h - 4}" rx="6"/>` +
        `<text class="sub-title" x="${sub.x + 16}" y="${sub.y + 20}">${esc(s.name)}</text>` +
        `<text class="muted" x="${sub.x + 16}" y="${sub.y + 36}">${esc(s.cidr)}</text>` +
        marks.map((m, i) => `<text class="mark" x="${sub.x + 16}" y="${sub.y + 52 + i * 14}">` +
          `${esc(m.length > 32 ? `${m.slice(0, 31)}…` : m)}<title>${esc(m)}</title></text>`)
          .join("") +
        sub.nodes.map((n) => chip(n, s.origin ?? net, path)).join("") + "</g>");
    }
    parts.push("</g>");
  }
  return `<svg id="topo-svg" xmlns="http://www.w3.org/2000/svg" role="img" ` +
    `aria-label="topology" width="${Math.round(lay.width * scale)}" ` +
    `height="${Math.round(lay.height * scale)}" viewBox="0 0 ${lay.width} ${lay.height}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" ` +
    `markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>` +
    `</defs>${parts.join("")}${arrows(lay)}${channels(lay)}</svg>`;
}

/** The side list of networks, each a button that collapses or expands it.
 * @param {TopoNetwork[]} networks
 * @returns {string}
 */
function netList(networks) {
  return networks.map((net) => {
    const key = netKey(net);
    const open = !view.collapsed.has(key);
    return `<li><button type="button" class="link" data-toggle="${esc(key)}" ` +
      `aria-expanded="${open}">${open ? "▾" : "▸"} ${esc(net.name)} ` +
      `<span class="muted">${esc(net.account)}</span></button></li>`;
  }).join("");
}

/** The cards as the page groups them: by network, or by host.
 * @param {TopoNetwork[]} networks
 * @returns {TopoNetwork[]}
 */
function grouped(networks) { return view.byHost ? byHost(networks) : networks; }

function draw() {
  if (!view.topo) return;
  const shown = grouped(search(cards(view.topo), view.query));
  const canvas = byId("topo-canvas");
  const width = Math.max(900, canvas.clientWidth / ZOOMS[view.zoom] - 4);
  canvas.innerHTML = shown.length ? svg(layout(shown, view.collapsed, width))
    : `<p class="empty">${view.query ? "Nothing matches the search." : "No networks yet."}</p>`;
  byId("topo-nets").innerHTML = netList(shown);
  const apps = view.topo.appliances.length;
  const nodes = view.topo.networks.reduce((n, net) => n + net.subnets.reduce(
    (m, s) => m + s.nodes.length, 0), 0);
  byId("topo-summary").textContent = `${view.topo.networks.length} networks, ${nodes} nodes, ` +
    `${apps} appliances · zoom ${Math.round(ZOOMS[view.zoom] * 100)}%`;
}

/** Read the topology and the appliances' health side by side; draw the picture as soon as
 * the topology is in (the first paint waits for nothing else), then again when the health
 * changes it. */
async function refresh() {
  const status = byId("topo-status");
  try {
    const apps = all("/v1/appliances");
    apps.catch(() => {});  // awaited below; a failure there is reported there
    /** @type {Topology} */
    const topo = await call("GET", "/v1/topology");
    const seenTopo = JSON.stringify(topo);
    if (seenTopo !== view.seen) {
      view.seen = seenTopo;
      view.topo = topo;
      draw();
    }
    /** @type {Map<string, Management | null>} */
    const healthMap = new Map();
    for (const app of /** @type {Appliance[]} */ (await apps)) {
      for (const node of [app.frontend, ...app.backends]) {
        if (node) healthMap.set(node.netns, node.management);
      }
    }
    const seenHealth = JSON.stringify([...healthMap]);
    if (seenHealth !== view.seenHealth) {
      view.seenHealth = seenHealth;
      view.health = healthMap;
      draw();
    }
    status.textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
    status.classList.remove("error");
  } catch (err) {
    status.textContent = describe(err);
    status.classList.add("error");
  }
}

/** Show the page in `root`; returns how to stop its polling.
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function show(root) {
  view.seen = "";
  view.seenHealth = "";
  root.innerHTML = `<h1>Topology</h1>
    <div class="toolbar">
      <label>Search <input id="topo-search" type="search" placeholder="network, node, address"
        value="${esc(view.query)}"></label>
      <label>Group by <select id="topo-group">
        <option value="network"${view.byHost ? "" : " selected"}>network</option>
        <option value="host"${view.byHost ? " selected" : ""}>host</option></select></label>
      <button type="button" id="topo-collapse">Collapse all</button>
      <button type="button" id="topo-expand">Expand all</button>
      <button type="button" id="topo-out" aria-label="zoom out">−</button>
      <button type="button" id="topo-in" aria-label="zoom in">+</button>
      <span id="topo-summary" class="muted"></span>
      <span id="topo-status" class="muted" role="status"></span>
    </div>
    <div class="topo">
      <nav aria-label="networks"><ul id="topo-nets" class="plain"></ul></nav>
      <div id="topo-canvas" class="canvas"><p class="empty">Loading…</p></div>
    </div>
    <p class="legend"><span class="dot h-up"></span> healthy (its agent says so)
      <span class="dot h-active"></span> active <span class="dot h-pending"></span> pending
      <span class="dot h-down"></span> failing · ◆ third-party front-end or granted interface ·
      arrows: chains (an appliance's backends call another) · dashed: private channels ·
      ⇄ a public address</p>`;
  byId("topo-search").addEventListener("input", (e) => {
    view.query = /** @type {HTMLInputElement} */ (e.target).value;
    draw();
  });
  byId("topo-group").addEventListener("change", (e) => {
    view.byHost = /** @type {HTMLSelectElement} */ (e.target).value === "host";
    draw();
  });
  byId("topo-collapse").addEventListener("click", () => {
    for (const net of grouped(view.topo ? cards(view.topo) : [])) view.collapsed.add(netKey(net));
    draw();
  });
  byId("topo-expand").addEventListener("click", () => { view.collapsed.clear(); draw(); });
  byId("topo-in").addEventListener("click", () => {
    view.zoom = Math.min(ZOOMS.length - 1, view.zoom + 1); draw();
  });
  byId("topo-out").addEventListener("click", () => {
    view.zoom = Math.max(0, view.zoom - 1); draw();
  });
  byId("topo-nets").addEventListener("click", (e) => {
    const button = /** @type {HTMLElement} */ (e.target).closest("[data-toggle]");
    const key = button?.getAttribute("data-toggle");
    if (!key) return;
    if (view.collapsed.has(key)) view.collapsed.delete(key); else view.collapsed.add(key);
    draw();
  });
  return poll(refresh, POLL_MS);
}

