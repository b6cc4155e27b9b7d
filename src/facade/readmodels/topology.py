"""The topology (GET /v1/topology) a person, the console or `facade topology` reads: networks
(with their public gateway and private channels), their subnets (what makes one provider
internal, the accounts granted interfaces in it) and each node's leg in them, the caller's
external hosts, and the appliances with what each uses and what uses it (chains). The fields
are in the order the API has always sent them; a field with a default is one an older control
plane may not send."""

from __future__ import annotations

from pydantic import BaseModel

from facade.domain.names import LOCAL_HOST
from facade.domain.states import ApplianceStatus, NodeStatus


class TopologyNodeRead(BaseModel):
    """One node's leg in a subnet (a node with legs in three subnets is shown three times)."""

    name: str
    account: str
    role: str
    appliance: str | None  # the appliance whose front-end or backend it is
    netns: str
    status: NodeStatus
    interface: str  # its interface in this subnet (eth0, eth1...)
    ip: str
    public_ip: str | None = None  # the public address translated to this interface
    # the host the node is on (docs/multi-host.md); an older control plane that does not say
    # means the local host, where every node was
    host: str = LOCAL_HOST


class TopologyChannelRead(BaseModel):
    """A private channel (VPN) of a network or a site, seen from that end."""

    name: str
    peer: str  # the other end's name
    peer_kind: str  # its kind: "site", or a network's ("private")
    peer_cidr: str | None = None
    engine: str = "wireguard"


class TopologySubnetRead(BaseModel):
    name: str
    cidr: str
    gateway: str
    bridge: str
    internal: list[str] = []  # why it is provider internal ("backend of service search")
    granted_to: list[str] = []  # accounts granted interfaces in it
    nodes: list[TopologyNodeRead]


class TopologyNetworkRead(BaseModel):
    name: str
    account: str
    cidr: str
    router: str
    kind: str = "private"  # or "intermediate" (the Internet), or "site" (a customer's site)
    gateway_ip: str | None = None  # its public (or a site's) gateway's address
    outbound_nat: bool = False
    public_gateway: bool = False
    vpns: list[TopologyChannelRead] = []
    subnets: list[TopologySubnetRead]


class TopologyApplianceRead(BaseModel):
    """An appliance and its chain links, with the visibility of GET /v1/appliances: its
    backends, backend subnets and upstream for its provider only (empty or null otherwise)."""

    name: str
    account: str
    service: str
    provider: str
    subnet: str
    status: ApplianceStatus
    endpoint: str | None  # IP:PORT; null until its front-end has an address
    backends: list[str] = []
    backend_subnet: str | None = None
    extra_subnets: list[str] = []
    upstream: str | None = None
    uses: list[str] = []
    used_by: list[str] = []


class TopologyRead(BaseModel):
    networks: list[TopologyNetworkRead]
    externals: list[TopologyNodeRead] = []  # the caller's hosts on the intermediate network
    appliances: list[TopologyApplianceRead] = []

