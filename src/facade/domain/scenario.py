"""The declarations of a scenario file (`facade apply -f FILE`): frozen, plain types.

A scenario declares accounts, networks (with subnets), grants, load-balancer offers, services,
instances, appliances and rules. The file's reader (`facade.scenario`, which holds the YAML and
its line marks) turns the text into a `Scenario` of these declarations, each carrying the file
and 1-based line it was written on, so the service layer's apply/destroy (service/scenario/)
can report its own errors (a reference to a missing object, a name already taken) at the right
place. Nothing here reads YAML or checks a field: the rules are those of domain/commands.py
and the modules it calls.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from facade.domain import autoscale as autoscale_mod
from facade.domain.specs import PortRuleSpec

MAX_BYTES = 1024 * 1024  # a scenario file's size limit, in the reader and the API alike


@dataclass(frozen=True)
class Declaration:
    """Shared by every declaration: `line` is where its mapping (or string) starts, 1-based.
    The service layer's apply and destroy report their errors at `where`."""

    @property
    def kind(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return getattr(self, "name", "")

    @property
    def where(self) -> str:
        """"search.yaml:12 (appliance docs)": for error messages about this declaration."""
        file = getattr(self, "file", "<scenario>")
        line = getattr(self, "line", 0)
        return f"{file}:{line} ({self.kind} {self.label})"


@dataclass(frozen=True)
class AccountDecl(Declaration):
    name: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "account"


@dataclass(frozen=True)
class SubnetDecl(Declaration):
    """A subnet of a network; `name` is its own name, `ref` is "network/subnet"."""

    name: str
    cidr: str
    line: int = 0
    network: str = ""
    file: str = field(default="<scenario>", compare=False, repr=False)
    internet: bool = True  # routed to the Internet by the public gateway (docs/edge.md)
    sites: bool = True  # routed to the network's sites by its private gateway (docs/edge.md)

    @property
    def kind(self) -> str:
        return "subnet"

    @property
    def ref(self) -> str:
        return f"{self.network}/{self.name}"

    @property
    def label(self) -> str:
        return self.ref


@dataclass(frozen=True)
class NetworkDecl(Declaration):
    name: str
    account: str
    cidr: str
    subnets: tuple[SubnetDecl, ...] = ()
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    public_gateway: bool = False  # docs/edge.md
    outbound_nat: bool = False

    @property
    def kind(self) -> str:
        return "network"


@dataclass(frozen=True)
class GrantDecl(Declaration):
    """`grants: [{subnet: NET/SUB, account: X}]`: the subnet's owner lets account X give its
    instances interfaces in the subnet (service.grants)."""

    subnet: str  # "network/subnet"
    account: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "grant"

    @property
    def label(self) -> str:
        return f"{self.subnet} to {self.account}"


@dataclass(frozen=True)
class LoadBalancerDecl(Declaration):
    """`load_balancers: [{name, account, management_subnet: NET/SUB}]`: a front-end provider's
    load-balancer offer (service.load_balancers), which a service names in `frontend:`."""

    name: str
    account: str
    management_subnet: str  # "network/subnet"
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "load-balancer"


@dataclass(frozen=True)
class ServiceDecl(Declaration):
    """Exactly one of `workload` (a built-in: http-echo, search) and `command` is set.

    `command` is a template: split it with `argv` (shlex, never a shell) and replace {ip},
    {port} and {name} in each word; no other braces can appear in it.
    """

    name: str
    account: str
    workload: str | None
    command: str | None
    port: int
    backend_subnet: str
    management_subnet: str
    health_path: str | None = None
    upstream: str | None = None  # the appliance its backends call (docs/composition.md)
    frontend: str | None = None  # the load-balancer offer its front-ends come from
    # subnets every backend also gets a leg in (docs/composition.md), in order
    extra_subnets: tuple[str, ...] = ()
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    upstream_line: int = field(default=0, compare=False, repr=False)
    # prices as given ("node_hour.backend", "0.40"), checked; none given: every price is 0
    prices: tuple[tuple[str, str], ...] = ()
    billing_model: str = "provider-bills"
    # autoscaling policy (docs/autoscaling.md), checked; None: a fixed size per appliance
    autoscale: autoscale_mod.Policy | None = None
    # each backend's sandbox limits as given (("memory_mb", 256), ...), checked
    limits: tuple[tuple[str, int], ...] = ()
    # its health check as given (("interval", 2.0), ...), health_path as its path; checked
    health_check: tuple[tuple[str, Any], ...] = ()
    tenancy: str = "shared"  # or dedicated (domain/tenancy.py)

    @property
    def kind(self) -> str:
        return "service"

    @property
    def prices_plain(self) -> dict[str, object]:
        return _nest(self.prices)

    @property
    def argv(self) -> tuple[str, ...]:
        """The command's words, placeholders not yet replaced; () for a built-in workload."""
        return tuple(shlex.split(self.command)) if self.command is not None else ()


@dataclass(frozen=True)
class InterfaceDecl(Declaration):
    subnet: str  # "network/subnet"
    ip: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "interface"

    @property
    def label(self) -> str:
        return self.subnet if self.ip is None else f"{self.subnet}={self.ip}"


@dataclass(frozen=True)
class InstanceDecl(Declaration):
    name: str
    account: str
    interfaces: tuple[InterfaceDecl, ...]
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    # its sandbox limits as given (("memory_mb", 256), ...), checked
    limits: tuple[tuple[str, int], ...] = ()
    public_ip: bool = False  # a standard public address for eth0 (docs/edge.md)
    host: str | None = None  # the host it is placed on (docs/multi-host.md); None: local

    @property
    def kind(self) -> str:
        return "instance"


@dataclass(frozen=True)
class ExternalDecl(Declaration):
    """`external_hosts: [{name, account, ip}]`: a host on the intermediate network."""

    name: str
    account: str
    ip: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "external host"


@dataclass(frozen=True)
class SiteDecl(Declaration):
    """`sites: [{name, account, cidr, hosts: [{name, ip}]}]`: a customer's own network
    (docs/edge.md); its hosts are `SiteHostDecl`s of their own."""

    name: str
    account: str
    cidr: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "site"


@dataclass(frozen=True)
class SiteHostDecl(Declaration):
    """One of a site's `hosts`: an instance of the site's range; `account` is the site's
    (sites are unique per account: two accounts' files may both have a site `branch`)."""

    name: str
    site: str
    ip: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    account: str = ""

    @property
    def kind(self) -> str:
        return "site host"

    @property
    def site_ref(self) -> str:
        """The site as the API is asked for it: ACCOUNT/NAME, whoever applies the file."""
        return f"{self.account}/{self.site}" if self.account else self.site


@dataclass(frozen=True)
class VpnDecl(Declaration):
    """`vpns: [{name, network, site}]`: a private channel between a network and a site."""

    name: str
    network: str
    site: str
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "vpn"


@dataclass(frozen=True)
class PublicIpDecl(Declaration):
    """`public_ips: [{account, instance, iface} | {account, appliance} | {account, site,
    address}]`: a customer public address of the account, associated with that target; the
    target names it (an address is handed out, not chosen)."""

    account: str
    instance: str | None = None
    iface: str = "eth0"
    appliance: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    site: str | None = None
    address: str | None = None  # with site: the site host's address

    @property
    def kind(self) -> str:
        return "public IP"

    @property
    def label(self) -> str:
        if self.site:
            return f"site {self.site} host {self.address}"
        return f"appliance {self.appliance}" if self.appliance else f"{self.instance}/{self.iface}"


@dataclass(frozen=True)
class ApplianceDecl(Declaration):
    name: str
    account: str
    service: str
    subnet: str  # "network/subnet"
    backends: int = 1
    tenancy: str = "shared"  # what its customer asks for (domain/tenancy.py)
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "appliance"


@dataclass(frozen=True)
class RuleDecl(Declaration):
    """A security rule of a subnet (`subnet: net/sub`) or of one interface (`interface:
    instance/eth0`); `rule` holds the validated fields (domain.security). `account`: whose
    subnet or instance it is, when the file says so (the API's `?account=`); else the
    reference is resolved as the applying token's."""

    subnet: str | None
    interface: str | None
    rule: PortRuleSpec
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)
    account: str = ""

    @property
    def kind(self) -> str:
        return "rule"

    @property
    def label(self) -> str:
        scope = f"subnet {self.subnet_ref}" if self.subnet else f"interface {self.interface_ref}"
        return f"{scope} {self.rule.direction} {self.rule.priority}"

    @property
    def subnet_ref(self) -> str | None:
        """NETWORK/SUBNET, or ACCOUNT/NETWORK/SUBNET with the rule's account."""
        if self.subnet is None or not self.account or self.subnet.count("/") == 2:
            return self.subnet
        return f"{self.account}/{self.subnet}"

    @property
    def interface_ref(self) -> str | None:
        """INSTANCE/IFNAME, or ACCOUNT/INSTANCE/IFNAME with the rule's account."""
        if self.interface is None or not self.account:
            return self.interface
        return f"{self.account}/{self.interface}"


@dataclass(frozen=True)
class PricesDecl(Declaration):
    """The top-level `prices`: the operator's instance prices (`instances`, as given, checked),
    its edge prices (`edge`: per public address-hour, per GB through a public gateway) and
    front-end providers' prices (`frontend`: account -> per front-end node-hour)."""

    instances: tuple[tuple[str, str], ...] | None = None
    frontend: tuple[tuple[str, str], ...] = ()
    edge: tuple[tuple[str, str], ...] | None = None
    currency: str | None = None
    line: int = 0
    file: str = field(default="<scenario>", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "prices"

    @property
    def label(self) -> str:
        return "instances" if self.instances is not None else \
            "edge" if self.edge is not None else "front-end"

    @property
    def instances_plain(self) -> dict[str, object]:
        out = _nest(self.instances or ())
        if self.currency is not None:
            out["currency"] = self.currency
        return out

    @property
    def edge_plain(self) -> dict[str, object]:
        out = _nest(self.edge or ())
        if self.currency is not None:
            out["currency"] = self.currency
        return out


def flat(data: object, prefix: str = "") -> tuple[tuple[str, str], ...]:
    """A nested mapping of prices as given, as (dotted path, text) pairs: a declaration's form."""
    if isinstance(data, dict):
        return tuple(kv for k, v in data.items() for kv in flat(v, f"{prefix}{k}."))
    return ((prefix[:-1], str(data)),)


def _nest(pairs: tuple[tuple[str, str], ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for path, value in pairs:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[last] = value
    return out


Decl = (AccountDecl | NetworkDecl | GrantDecl | LoadBalancerDecl | ServiceDecl | InstanceDecl
        | ApplianceDecl | RuleDecl | PricesDecl | ExternalDecl | PublicIpDecl | SiteDecl
        | SiteHostDecl | VpnDecl)


@dataclass(frozen=True)
class Scenario:
    file: str = "<scenario>"
    accounts: tuple[AccountDecl, ...] = ()
    networks: tuple[NetworkDecl, ...] = ()
    services: tuple[ServiceDecl, ...] = ()
    instances: tuple[InstanceDecl, ...] = ()
    appliances: tuple[ApplianceDecl, ...] = ()
    rules: tuple[RuleDecl, ...] = ()
    prices: tuple[PricesDecl, ...] = ()  # at most one
    grants: tuple[GrantDecl, ...] = ()
    load_balancers: tuple[LoadBalancerDecl, ...] = ()
    external_hosts: tuple[ExternalDecl, ...] = ()
    public_ips: tuple[PublicIpDecl, ...] = ()
    sites: tuple[SiteDecl, ...] = ()
    site_hosts: tuple[SiteHostDecl, ...] = ()  # the sites' `hosts`, in file order
    vpns: tuple[VpnDecl, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.accounts or self.networks or self.services or self.instances
                    or self.appliances or self.rules or self.prices or self.grants
                    or self.load_balancers or self.external_hosts or self.public_ips
                    or self.sites or self.vpns)

    def in_order(self) -> tuple[Decl, ...]:
        """Every declaration in creation order (accounts first); destroy walks it backwards."""
        return (*self.accounts, *self.prices, *self.networks, *self.sites, *self.vpns,
                *self.grants, *self.load_balancers, *self.services, *self.instances,
                *self.external_hosts, *self.site_hosts, *self.rules, *self.appliances,
                *self.public_ips)
