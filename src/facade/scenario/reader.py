"""The scenario file's reader: `parse_scenario` turns the text a user gives to `facade apply -f
FILE` into a frozen `Scenario` of declarations (domain.scenario), each at its file line.

It checks everything that can be checked from the file alone (its size and encoding, YAML syntax,
keys, types, names, CIDRs, addresses, ports, counts, uniqueness within the file, subnets inside
and not overlapping within their network, command templates, chains of appliances) and raises
`Invalid` with `where` = "FILE:LINE" for the first problem it meets. The fields of a declaration
are checked by the same rules as an API body (domain.commands and the modules it calls).
References between objects (an appliance's service, an instance's subnet...) may name objects
that already exist in the control plane, so resolving them is left to the service layer's
apply (service/scenario/), which calls this.
"""

from __future__ import annotations

from facade.domain.errors import Invalid, describe
from facade.domain.scenario import MAX_BYTES, Scenario
from facade.scenario.items import unknown_key_message
from facade.scenario.networks import (
    read_accounts,
    read_grants,
    read_load_balancers,
    read_networks,
)
from facade.scenario.nodes import (
    read_appliances,
    read_external_hosts,
    read_instances,
    read_public_ips,
)
from facade.scenario.rules import read_rules
from facade.scenario.services import check_chains, read_prices, read_services
from facade.scenario.sites import read_sites, read_vpns
from facade.scenario.yaml_lines import Map, load

TOP_LEVEL = ("accounts", "prices", "networks", "grants", "load_balancers", "services",
             "instances", "external_hosts", "appliances", "rules", "public_ips", "sites",
             "vpns")


def parse_scenario(text: str | bytes, filename: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario file's text; raise `Invalid` ("FILE:LINE") on any problem."""
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
        if len(raw) > MAX_BYTES:
            raise Invalid(f"the file is {len(raw)} bytes; a scenario is at most 1 MiB "
                          f"({MAX_BYTES} bytes)", where=filename)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise Invalid("the file is not UTF-8 text", where=f"{filename}:{line}") from None
    if not isinstance(text, str):
        raise Invalid(f"a scenario must be text, not {type(text).__name__}", where=filename)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise Invalid(f"the file is {size} bytes; a scenario is at most 1 MiB ({MAX_BYTES} "
                      "bytes)", where=filename)

    data = load(text, filename)
    if data is None:
        return Scenario(file=filename)
    if not isinstance(data, Map):
        line = getattr(data, "line", 1)
        raise Invalid(f"a scenario must be a mapping with the keys {', '.join(TOP_LEVEL)}, not "
                      f"{describe(data)}", where=f"{filename}:{line}")
    for key in data:
        if key not in TOP_LEVEL:
            raise Invalid(unknown_key_message(key, "the scenario", TOP_LEVEL),
                          where=f"{filename}:{data.key_lines[key]}")

    accounts = read_accounts(data, filename)
    price_lists = read_prices(data, filename)
    networks = read_networks(data, filename)
    grants = read_grants(data, filename, networks)
    services = read_services(data, filename)
    load_balancers = read_load_balancers(data, filename, networks, services)
    subnets = {f"{n.account}/{s.ref}": s.cidr for n in networks for s in n.subnets}
    instances = read_instances(data, filename, subnets)
    appliances = read_appliances(data, filename)
    rules = read_rules(data, filename)
    check_chains(services, appliances, filename)
    sites, site_hosts = read_sites(data, filename, instances)
    return Scenario(sites=sites, site_hosts=site_hosts, vpns=read_vpns(data, filename),
                    file=filename, accounts=accounts, networks=networks, services=services,
                    instances=instances, appliances=appliances, rules=rules,
                    prices=price_lists, grants=grants, load_balancers=load_balancers,
                    external_hosts=read_external_hosts(data, filename, instances),
                    public_ips=read_public_ips(data, filename))
