// The shapes of the /v1 answers the console reads (docs/api.md), for the type checker only.

/**
 * The topology (facade.readmodels.topology: TopologyRead and the models it holds, field for
 * field; tests/unit/test_console_assets.py holds these typedefs to them).
 * @typedef {"pending" | "active" | "failed" | "deleting"} NodeStatus
 * @typedef {"provisioning" | "ready" | "scaling" | "degraded" | "failed" | "deleting"}
 *   ApplianceStatus
 * @typedef {{name: string, account: string, role: string, appliance: string | null,
 *   netns: string, status: NodeStatus, interface: string, ip: string,
 *   public_ip: string | null, host: string}} TopoNode
 * @typedef {{name: string, peer: string, peer_kind: string, peer_cidr: string | null,
 *   engine: string}} TopoChannel
 * @typedef {{name: string, cidr: string, gateway: string, bridge: string, internal: string[],
 *   granted_to: string[], nodes: TopoNode[]}} TopoSubnet
 * @typedef {{name: string, account: string, cidr: string, router: string, kind: string,
 *   gateway_ip: string | null, outbound_nat: boolean, public_gateway: boolean,
 *   vpns: TopoChannel[], subnets: TopoSubnet[]}} TopoNetwork
 * @typedef {{name: string, account: string, service: string, provider: string,
 *   subnet: string, status: ApplianceStatus, endpoint: string | null, backends: string[],
 *   backend_subnet: string | null, extra_subnets: string[], upstream: string | null,
 *   uses: string[], used_by: string[]}} TopoAppliance
 * @typedef {{networks: TopoNetwork[], externals: TopoNode[],
 *   appliances: TopoAppliance[]}} Topology
 *
 * The other answers the console reads (facade.readmodels.nodes and .appliances).
 * @typedef {{name: string, subnet: string, ip: string}} Iface
 * @typedef {{reachable?: boolean, checked?: string,
 *   workload?: {ok: boolean, detail: string} | null, rotation?: string[]}} Management
 * @typedef {{name: string, account: string, role: string, netns: string, status: NodeStatus,
 *   interfaces: Iface[], management: Management | null}} ApiNode
 * @typedef {{name: string, account: string, service: string, provider: string,
 *   subnet: string, status: ApplianceStatus, status_detail: string, desired_backends: number,
 *   backend_count: number, endpoint: {ip: string | null, port: number},
 *   frontend: ApiNode | null, backends: ApiNode[], upstream: string | null,
 *   uses: string[], used_by: string[]}} Appliance
 */

export {};
