"""The tables of Facade's desired state (and its events), as SQLAlchemy 2 typed models, one
module per role: `accounts` (accounts, tokens, quotas, idempotent requests), `networks`
(networks, subnets, grants, security rules), `hosts` (hosts and their agents' tokens),
`appliances` (instances and nodes with their interfaces, services and load-balancer offers,
appliances, autoscaling policies), `edge` (public addresses, pools, private channels), `usage`
(metering), `billing` (price lists, runs, the ledger) and `events`. Every model is imported
here: `from facade.store.models import X` is how the rest of Facade names them.

Rows say what *should* exist; the reconciler makes the kernel agree. Unique constraints are the
backstop of the service layer's checks: (subnet, ip) can never be allocated twice, and a name is
taken once per account (account, name), never across accounts (docs/api.md, "Names").
"""

from facade.store.models.accounts import Account, IdempotentRequest, Quota, Token
from facade.store.models.appliances import (
    Appliance,
    AutoscalePolicy,
    Instance,
    Interface,
    LoadBalancer,
    Service,
    ServiceSubnet,
)
from facade.store.models.base import NEVER_REUSE, Base, utcnow
from facade.store.models.billing import (
    BilledUsage,
    BillingRun,
    EdgeBilled,
    LedgerPosting,
    LedgerTransaction,
    PriceList,
)
from facade.store.models.edge import IpPool, PublicIp, Vpn
from facade.store.models.events import Event
from facade.store.models.hosts import Host, HostToken
from facade.store.models.networks import Network, SecurityRule, Subnet, SubnetGrant
from facade.store.models.usage import EdgeHolding, EdgeUsage, MeterReading, UsageRecord

__all__ = [
    "NEVER_REUSE", "Account", "Appliance", "AutoscalePolicy", "Base", "BilledUsage",
    "BillingRun", "EdgeBilled", "EdgeHolding", "EdgeUsage", "Event", "Host", "HostToken",
    "IdempotentRequest", "Instance", "Interface", "IpPool", "LedgerPosting",
    "LedgerTransaction", "LoadBalancer", "MeterReading", "Network", "PriceList", "PublicIp",
    "Quota", "SecurityRule", "Service", "ServiceSubnet", "Subnet", "SubnetGrant", "Token",
    "UsageRecord", "Vpn", "utcnow",
]
