// The shapes of the /v1 answers the console reads (docs/api.md), for the type checker only.

/**
 * @typedef {{name: string, account: string, role: string, appliance: string | null,
 *   netns: string, status: string, interface: string, ip: string,
 *   public_ip?: string | null, host?: string}} TopoNode
 * @typedef {{name: string, cidr: string, gateway: string, internal: string[],
 *   granted_to: string[], nodes: TopoNode[], origin?: TopoNetwork}} TopoSubnet
 * @typedef {{name: string, peer: string, peer_kind: string}} TopoChannel
 * @typedef {{name: string, account: string, cidr: string, kind?: string,
 *   public_gateway?: boolean, gateway_ip?: string | null, vpns?: TopoChannel[],
 *   subnets: TopoSubnet[]}} TopoNetwork
 * @typedef {{name: string, account: string, service: string, provider: string,
 *   subnet: string, status: string, endpoint: string | null, backends: string[],
 *   uses: string[], used_by: string[]}} TopoAppliance
 * @typedef {{networks: TopoNetwork[], appliances: TopoAppliance[],
 *   externals?: TopoNode[]}} Topology
 * @typedef {{name: string, subnet: string, ip: string}} Iface
 * @typedef {{reachable?: boolean, checked?: string,
 *   workload?: {ok: boolean, detail: string} | null, rotation?: string[]}} Management
 * @typedef {{name: string, account: string, role: string, netns: string, status: string,
 *   interfaces: Iface[], management: Management | null}} ApiNode
 * @typedef {{name: string, account: string, service: string, provider: string,
 *   subnet: string, status: string, status_detail: string, desired_backends: number,
 *   backend_count: number, endpoint: {ip: string | null, port: number},
 *   frontend: ApiNode | null, backends: ApiNode[], upstream: string | null,
 *   uses: string[], used_by: string[]}} Appliance
 */

export {};
