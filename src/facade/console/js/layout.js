// Where each network, subnet and node of the topology goes: a layered layout of the
// containment tree (network > subnet > node), pure (no DOM), so it is cheap to run again on
// every update and to check by itself. Networks are stacked cards; each subnet a band with its
// label on the left and its nodes in a grid that wraps at the width; a collapsed network is
// its header alone. Chains (appliance -> appliance it calls) are drawn over this tree as arrows
// between front-ends, so they need no place of their own.

/** @typedef {import("./types.js").Topology} Topology */
/** @typedef {import("./types.js").TopoNetwork} TopoNetwork */
/** @typedef {import("./types.js").TopoSubnet} TopoSubnet */
/** @typedef {import("./types.js").TopoNode} TopoNode */
/** @typedef {{x: number, y: number, w: number, h: number}} Box */
/** @typedef {Box & {node: TopoNode}} NodeBox */
/** A subnet's band; grouped by host, named NETWORK/SUBNET and keeping its network.
 * @typedef {TopoSubnet & {origin?: TopoNetwork}} Band */
/** @typedef {Box & {subnet: TopoSubnet, nodes: NodeBox[]}} SubnetBox */
/** @typedef {Box & {network: TopoNetwork, key: string, collapsed: boolean,
 *   count: number, subnets: SubnetBox[]}} NetworkBox */
/** @typedef {{width: number, height: number, networks: NetworkBox[]}} Layout */

export const SIZE = {
  pad: 16, header: 34, label: 230, chipW: 176, chipH: 40, gap: 10, bandPad: 10, minBand: 60,
};

/** A network's key, unique across accounts.
 * @param {TopoNetwork} net
 * @returns {string}
 */
export function netKey(net) { return `${net.account}/${net.name}`; }

/** Does the query match any of these texts (case-insensitive)?
 * @param {string} q lower-case
 * @param {Array<string | null | undefined>} texts
 * @returns {boolean}
 */
function hit(q, texts) {
  return texts.some((t) => (t ?? "").toLowerCase().includes(q));
}

/** The networks, subnets and nodes a search shows: all of a network (or subnet) whose name
 * matches, else its nodes that match by name, address or appliance; networks left empty go.
 * @param {TopoNetwork[]} networks
 * @param {string} query
 * @returns {TopoNetwork[]}
 */
export function search(networks, query) {
  const q = query.trim().toLowerCase();
  if (!q) return networks;
  /** @type {TopoNetwork[]} */
  const out = [];
  for (const net of networks) {
    if (hit(q, [net.name, net.account, net.cidr])) { out.push(net); continue; }
    const subnets = net.subnets.map((sub) => hit(q, [sub.name, sub.cidr]) ? sub : {
      ...sub, nodes: sub.nodes.filter((n) => hit(q, [n.name, n.ip, n.appliance])),
    }).filter((sub) => sub.nodes.length > 0 || hit(q, [sub.name, sub.cidr]));
    if (subnets.length > 0) out.push({ ...net, subnets });
  }
  return out;
}

/** The networks to draw: the topology's, then the caller's external hosts (on the Internet,
 * the intermediate network it cannot see itself, docs/edge.md) as a card of their own.
 * @param {Topology} topo
 * @returns {TopoNetwork[]}
 */
export function cards(topo) {
  const externals = topo.externals;
  if (externals.length === 0) return topo.networks;
  const account = externals[0].account;
  return [...topo.networks, { name: "external hosts", account, kind: "external",
    cidr: "on the Internet", router: "", gateway_ip: null, outbound_nat: false,
    public_gateway: false, vpns: [], subnets: [{ name: "internet", cidr: "", gateway: "",
      bridge: "", internal: [], granted_to: [], nodes: externals }] }];
}

/** The same topology grouped by host: a card per host (sorted by name), in it a band per
 * subnet that holds nodes of that host, named NETWORK/SUBNET and keeping its network
 * (`origin`) so that a node reads the same as in the picture by network.
 * @param {TopoNetwork[]} networks
 * @returns {TopoNetwork[]}
 */
export function byHost(networks) {
  /** @type {Map<string, Band[]>} */
  const hosts = new Map();
  for (const net of networks) {
    for (const sub of net.subnets) {
      /** @type {Map<string, TopoNode[]>} */
      const here = new Map();
      for (const node of sub.nodes) {
        const nodes = here.get(node.host) ?? [];
        nodes.push(node);
        here.set(node.host, nodes);
      }
      for (const [host, nodes] of here) {
        const bands = hosts.get(host) ?? [];
        bands.push({ ...sub, name: `${net.name}/${sub.name}`, nodes, origin: net });
        hosts.set(host, bands);
      }
    }
  }
  return [...hosts.keys()].sort().map((host) => {
    const subnets = hosts.get(host) ?? [];
    const nodes = new Set(subnets.flatMap((s) => s.nodes.map((x) => `${x.account}/${x.name}`)));
    return { name: host, account: "host", kind: "host", cidr: `${nodes.size} nodes`, router: "",
      gateway_ip: null, outbound_nat: false, public_gateway: false, vpns: [], subnets };
  });
}

/** Lay the topology out at this width.
 * @param {TopoNetwork[]} networks
 * @param {Set<string>} collapsed network keys
 * @param {number} width
 * @returns {Layout}
 */
export function layout(networks, collapsed, width) {
  const s = SIZE;
  const w = Math.max(width, s.label + s.chipW + 3 * s.pad);
  const cols = Math.max(1, Math.floor((w - 2 * s.pad - s.label - s.gap) / (s.chipW + s.gap)));
  let y = s.pad;
  /** @type {NetworkBox[]} */
  const out = [];
  for (const network of networks) {
    const key = netKey(network);
    const count = network.subnets.reduce((n, sub) => n + sub.nodes.length, 0);
    /** @type {NetworkBox} */
    const box = { x: s.pad, y, w: w - 2 * s.pad, h: s.header, network, key, count,
      collapsed: collapsed.has(key), subnets: [] };
    let sy = y + s.header;
    if (!box.collapsed) {
      for (const subnet of network.subnets) {
        const rows = Math.ceil(subnet.nodes.length / cols);
        const h = Math.max(s.minBand, rows * (s.chipH + s.gap) - s.gap + 2 * s.bandPad);
        const nodes = subnet.nodes.map((node, i) => ({
          x: box.x + s.label + s.gap + (i % cols) * (s.chipW + s.gap),
          y: sy + s.bandPad + Math.floor(i / cols) * (s.chipH + s.gap),
          w: s.chipW, h: s.chipH, node,
        }));
        box.subnets.push({ x: box.x, y: sy, w: box.w, h, subnet, nodes });
        sy += h;
      }
      sy += s.gap;
    }
    box.h = sy - y;
    out.push(box);
    y = sy + s.gap;
  }
  return { width: w, height: y + s.pad, networks: out };
}
