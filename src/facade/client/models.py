"""The objects the API answers: the read models themselves (facade.readmodels), under the
client's short names (`XRead` -> `X`: `Appliance`, `Node`, `Network`...). The client parses
each answer into its model (pydantic: a field with a default is one an older control plane may
not send; a field a newer one adds is left out), so a caller reads attributes whose names and
types mypy knows, and each shape is written once, where the control plane builds it.
tests/unit/test_client_models.py holds this list to the API's answer schemas.
"""

from __future__ import annotations

from facade.readmodels import (
    accounts,
    appliances,
    billing,
    edge,
    errors,
    hosts,
    networks,
    nodes,
    rules,
    services,
    system,
    topology,
    usage,
)

# accounts
Account = accounts.AccountRead
QuotaLine = accounts.QuotaLine
Quota = accounts.QuotaRead
Token = accounts.TokenRead

# appliances
Appliance = appliances.ApplianceRead
Endpoint = appliances.Endpoint

# billing
BillingRun = billing.BillingRunRead
BillingSkip = billing.BillingSkip
EdgePrices = billing.EdgePricesRead
FrontEndPrices = billing.FrontEndPricesRead
InstancePrices = billing.InstancePricesRead
InvoiceDoc = billing.InvoiceDocRead
InvoiceLine = billing.InvoiceLineRead
Invoice = billing.InvoiceRead
LedgerAccount = billing.LedgerAccountRead
Ledger = billing.LedgerRead
LedgerRun = billing.LedgerRunRead
NodeHour = billing.NodeHourRead
ServicePrices = billing.ServicePricesRead
UnbilledChannel = billing.UnbilledChannelRead
UnbilledEdge = billing.UnbilledEdgeRead
Unbilled = billing.UnbilledRead

# edge
Association = edge.Association
Pool = edge.PoolRead
PublicIp = edge.PublicIpRead
SiteHostRef = edge.SiteHostRef
Site = edge.SiteRead
VpnEnds = edge.VpnEnds
Vpn = edge.VpnRead

# errors
ErrorDetail = errors.ErrorDetail
Error = errors.ErrorRead

# hosts
Host = hosts.HostRead
HostToken = hosts.HostTokenRead
Heartbeat = hosts.HeartbeatRead
Intent = hosts.IntentRead
HostWork = hosts.HostWorkRead
HostResults = hosts.HostResultsRead

# networks
Grant = networks.GrantRead
GrantRevoked = networks.GrantRevoked
Network = networks.NetworkRead
Subnet = networks.SubnetRead

# nodes
Exec = nodes.ExecRead
External = nodes.ExternalRead
Interface = nodes.InterfaceRead
Limits = nodes.LimitsRead
Node = nodes.NodeRead
SiteHost = nodes.SiteHostRead

# rules
Rule = rules.RuleRead

# services
Autoscale = services.AutoscaleRead
HealthCheck = services.HealthCheckRead
LoadBalancer = services.LoadBalancerRead
Service = services.ServiceRead

# system
Change = system.Change
Event = system.EventRead
Health = system.HealthRead
Scenario = system.ScenarioRead

# topology
TopologyAppliance = topology.TopologyApplianceRead
TopologyChannel = topology.TopologyChannelRead
TopologyNetwork = topology.TopologyNetworkRead
TopologyNode = topology.TopologyNodeRead
Topology = topology.TopologyRead
TopologySubnet = topology.TopologySubnetRead

# usage
ChannelUsage = usage.ChannelUsageRead
PublicIpUsage = usage.PublicIpUsageRead
Usage = usage.UsageRead

__all__ = [
    "Account",
    "Appliance",
    "Association",
    "Autoscale",
    "BillingRun",
    "BillingSkip",
    "Change",
    "ChannelUsage",
    "EdgePrices",
    "Endpoint",
    "Error",
    "ErrorDetail",
    "Event",
    "Exec",
    "External",
    "FrontEndPrices",
    "Grant",
    "GrantRevoked",
    "Health",
    "HealthCheck",
    "Heartbeat",
    "Host",
    "HostResults",
    "HostToken",
    "HostWork",
    "InstancePrices",
    "Intent",
    "Interface",
    "Invoice",
    "InvoiceDoc",
    "InvoiceLine",
    "Ledger",
    "LedgerAccount",
    "LedgerRun",
    "Limits",
    "LoadBalancer",
    "Network",
    "Node",
    "NodeHour",
    "Pool",
    "PublicIp",
    "PublicIpUsage",
    "Quota",
    "QuotaLine",
    "Rule",
    "Scenario",
    "Service",
    "ServicePrices",
    "Site",
    "SiteHost",
    "SiteHostRef",
    "Subnet",
    "Token",
    "Topology",
    "TopologyAppliance",
    "TopologyChannel",
    "TopologyNetwork",
    "TopologyNode",
    "TopologySubnet",
    "Unbilled",
    "UnbilledChannel",
    "UnbilledEdge",
    "Usage",
    "Vpn",
    "VpnEnds",
]
