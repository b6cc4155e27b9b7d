"""The scenario file's services (with their prices and autoscaling policies) and the top-level
price lists, read into declarations (domain.scenario) at their lines, and the chains of
appliances the file alone shows wrong.

A service is the fields of POST /v1/services, checked by `commands.new_service` like an API body;
called by the reader (reader.py).
"""

from __future__ import annotations

from facade.domain import autoscale as autoscale_mod
from facade.domain import commands
from facade.domain import prices as pricing
from facade.domain.errors import Invalid, describe
from facade.domain.money import CURRENCY, check_currency
from facade.domain.names import check_name, check_subnet_ref
from facade.domain.scenario import ApplianceDecl, PricesDecl, ServiceDecl, flat
from facade.scenario.items import Item, Unique, fields_at, in_file, items, mapping, prices_at
from facade.scenario.yaml_lines import Map


def read_services(top: Map, file: str) -> tuple[ServiceDecl, ...]:
    """services: the fields of POST /v1/services (account required, and `autoscale`), checked
    by commands.new_service like an API body."""
    unique = Unique("service")
    out = []
    allowed = ("name", "account", "workload", "command", "port", "backend_subnet",
               "management_subnet", "health_path", "upstream", "prices", "billing_model",
               "autoscale", "frontend", "extra_subnets", "limits", "health_check", "tenancy")
    for value, line in items(top, "services", file):
        item = mapping(value, line, kind="service", file=file, allowed=allowed,
                       required=("name", "account", "port", "backend_subnet",
                                 "management_subnet"))
        name = item.name()
        account = item.name("account", kind="account")
        unique.add(name, item.line, item.at("name"), account)
        workload, command, moved = _source(item, file)
        backend = item.subnet_ref("backend_subnet")
        management = item.subnet_ref("management_subnet")
        extras = tuple(check_subnet_ref(v, where=f"{file}:{n}",
                                        what="service extra_subnets entry")
                       for v, n in items(item.data, "extra_subnets", file))
        with fields_at(item, moved):
            cmd = commands.new_service(
                name=name, workload_name=workload, command=command,
                port=item.data.get("port"), backend_subnet=backend,
                management_subnet=management, health_path=item.data.get("health_path"),
                health_check=item.data.get("health_check"), limits=item.data.get("limits"),
                extra_subnets=extras, billing_model=item.data.get("billing_model"),
                upstream=item.data.get("upstream"), frontend=item.data.get("frontend"),
                tenancy=item.data.get("tenancy"))
        given = item.data.get("prices")
        with prices_at(item, "prices"):
            pricing.service_prices(given, where="prices")
        out.append(ServiceDecl(name=name, account=account, workload=cmd.workload,
                               command=cmd.command, port=cmd.port, backend_subnet=backend,
                               management_subnet=management, health_path=cmd.health_path,
                               upstream=cmd.upstream, frontend=cmd.frontend,
                               extra_subnets=extras, line=item.line, file=file,
                               upstream_line=item.data.key_lines.get("upstream", item.line),
                               prices=flat(given) if given else (),
                               billing_model=cmd.billing_model,
                               autoscale=_autoscale(item, file),
                               limits=tuple(sorted(cmd.limits.items())),
                               health_check=tuple(sorted(cmd.health_check.items())),
                               tenancy=cmd.tenancy))
    return tuple(out)


def _source(item: Item, file: str) -> tuple[object, object, dict[str, int]]:
    """What a service runs as given, (workload, command, lines): `workload: search`,
    `command: "prog ..."`, or `workload: {command: "prog ..."}`, whose command's line is not
    the line of a `command` key of the service (`lines` says where it is)."""
    raw = item.data.get("workload")
    if not isinstance(raw, Map):
        return raw, item.data.get("command"), {}
    sub = Item(raw, kind="service workload", file=file, allowed=("command",),
               required=("command",))
    if item.has("command"):
        item.fail("command", "service gives a command twice (under workload and as "
                             "command); give it once")
    return None, sub.data["command"], {"command": sub.data.key_lines["command"]}


def _autoscale(item: Item, file: str) -> autoscale_mod.Policy | None:
    """services[].autoscale: {min, max, metric, target, cooldown (default 30)}."""
    raw = item.data.get("autoscale")
    if raw is None:
        return None
    if not isinstance(raw, Map):
        item.fail("autoscale", "service autoscale must be a mapping like {min: 1, max: 4, "
                               "metric: requests, target: 50}")
    fields = ("min", "max", "metric", "target", "cooldown")
    sub = Item(raw, kind="autoscale", file=file, allowed=fields,
               required=("min", "max", "metric", "target"))
    try:
        return autoscale_mod.requested(
            min=sub.data.get("min"), max=sub.data.get("max"), metric=sub.data.get("metric"),
            target=sub.data.get("target"), cooldown=sub.data.get("cooldown"))
    except Invalid as exc:
        key = (exc.where or "").rpartition(".")[2]
        sub.fail(key if key in fields else "min", f"autoscale {exc.message}")


def read_prices(top: Map, file: str) -> tuple[PricesDecl, ...]:
    """prices: {currency, instances: {node_hour: {frontend, backend}}, edge: {public_ip_hour,
    gateway_per_gb, channel_hour}, frontend: {ACCOUNT: per front-end node-hour}}"""
    if top.get("prices") is None:
        return ()
    value = top["prices"]
    line = top.key_lines.get("prices", top.line)
    item = mapping(value, line, kind="prices", file=file,
                   allowed=("currency", "instances", "edge", "frontend"), required=())
    try:
        cur = check_currency(item.data.get("currency", CURRENCY), where="prices.currency")
    except Invalid as exc:
        item.fail("currency", f"prices {exc.message}")
    instances = item.data.get("instances")
    if instances is not None:
        with prices_at(item, "instances"):
            if isinstance(instances, dict) and "currency" in instances:
                raise Invalid("give the currency once, as prices.currency",
                              where="instances.currency")
            pricing.instance_prices(instances, where="instances", currency=cur)
    edge = item.data.get("edge")
    if edge is not None:
        with prices_at(item, "edge"):
            if isinstance(edge, dict) and "currency" in edge:
                raise Invalid("give the currency once, as prices.currency",
                              where="edge.currency")
            pricing.edge_prices(edge, where="edge", currency=cur)
    frontend = item.data.get("frontend")
    if frontend is None:
        frontend = Map()
        frontend.key_lines = {}
    if not isinstance(frontend, Map):
        item.fail("frontend", "prices frontend must be a mapping of account to its price per "
                              f"front-end node-hour, like {{lbco: '0.08'}}, not "
                              f"{describe(frontend)}")
    fe = Item(frontend, kind="prices frontend", file=file, allowed=tuple(
        str(k) for k in frontend), required=())
    for account, price in frontend.items():
        check_name(account, kind="account", where=fe.at(account))
        with prices_at(fe, account):
            pricing.price(price, where=str(account), currency=cur)
    return (PricesDecl(instances=flat(instances) if instances else
                       (() if instances is not None else None),
                       frontend=tuple((str(k), str(v)) for k, v in frontend.items()),
                       edge=flat(edge) if edge else (() if edge is not None else None),
                       currency=item.data.get("currency"), line=item.line, file=file),)


def check_chains(services: tuple[ServiceDecl, ...], appliances: tuple[ApplianceDecl, ...],
                 file: str) -> None:
    """Chains the file alone shows wrong: an upstream declared in the file must be placed in
    the service's backend subnet or one of its extra subnets (where its backends reach it), and
    following upstreams through the file's appliances must never come back to the same service.
    Objects are keyed ACCOUNT/NAME (a file may declare one name for two accounts); a reference
    means what items.in_file says."""
    by_name = {f"{a.account}/{a.name}": a for a in appliances}
    by_service = {f"{s.account}/{s.name}": s for s in services}

    def upstream(svc: ServiceDecl) -> ApplianceDecl | None:
        ref = in_file(svc.upstream, svc.account, by_name) if svc.upstream else None
        return by_name.get(ref or "")

    def service(app: ApplianceDecl) -> ServiceDecl | None:
        return by_service.get(in_file(app.service, app.account, by_service) or "")

    def subnet(ref: str, account: str) -> str:
        return ref if ref.count("/") == 2 else f"{account}/{ref}"

    for svc in services:
        if svc.upstream is None:
            continue
        where = f"{file}:{svc.upstream_line}"
        up = upstream(svc)
        reach = {subnet(r, svc.account) for r in (svc.backend_subnet, *svc.extra_subnets)}
        if up is not None and subnet(up.subnet, up.account) not in reach:
            raise Invalid(f"service {svc.name} upstream {svc.upstream} is placed in "
                          f"{up.subnet}; an upstream appliance must be in the service's "
                          f"backend subnet {svc.backend_subnet} (or one of its extra_subnets), "
                          "where its backends reach it", where=where)
        chain, current, up = [svc.name], svc, upstream(svc)
        while up is not None:
            next_service = service(up)
            chain.append(f"{up.name} ({up.service})")
            if next_service is None:
                break
            if next_service is svc:
                raise Invalid(f"service {svc.name} calls itself through a loop of "
                              f"appliances: {' -> '.join(chain)}", where=where)
            if len(chain) > len(services) + 1:
                break  # a loop that does not pass through svc: reported at its own service
            current = next_service
            up = upstream(current)
