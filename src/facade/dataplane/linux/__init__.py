"""The `linux` DataPlane driver: network namespaces, veth pairs, bridges in a fabric namespace,
policy routing and nftables load balancing, driven through netlink (pyroute2) and libnftables.

Modules: `netns` (namespaces and namespace threads), `nft` (libnftables via ctypes), `nft_rules`
(the front-end ruleset, pure), `router_rules` and `port_rules` (a router's and the fabric's
filters, pure), `port_guard` (port security in the fabric), `processes` (long-running
processes and pidfiles), `procfs` (what /proc says of a pid), `sandbox` (tenant sandboxes:
bubblewrap; its parts `sandbox_view`, `sandbox_bridge`, `sandbox_mounts`, `sandbox_launch`,
`sandbox_orphans`),
`seccomp` (their filter), `cgroups` (their limits), `locks` (node operations side by side),
`driver` (LinuxDataPlane), `cleanup` (`python -m facade.dataplane.linux.cleanup`).

The driver is a thin facade over its role modules: `links` (netlink, bridges, veth ports),
`routes` (addresses, routes, policy rules), `sysctls`, `node_tables` (a front-end's and a
router's nftables), `fabric_rules` (security rules in the fabric), `fabric_guard` (port
security), `nodes` (making and deleting a node), `observe` (reading it back), `commands`
(`exec`), `probes` (one TCP or HTTP probe).
"""

from facade.dataplane.linux.driver import LinuxDataPlane
from facade.dataplane.linux.errors import DataPlaneError

__all__ = ["DataPlaneError", "LinuxDataPlane"]
