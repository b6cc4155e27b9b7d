"""apply of a scenario file: each declaration made so, in one transaction, in dependency order
(accounts, prices, networks, sites, vpns, grants, load-balancer offers, services, instances,
external hosts, site hosts, rules, appliances, public IPs). What exists and matches is `unchanged`; settings (limits, health check,
autoscaling, prices) and an appliance's backend count are brought to what the file says
(`updated`); anything else that differs is a conflict (common.differs). Called through
facade.service.scenario.apply (the API's POST /v1/apply).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.errors import Conflict
from facade.domain.scenario import (
    AccountDecl,
    ApplianceDecl,
    Declaration,
    ExternalDecl,
    GrantDecl,
    InstanceDecl,
    LoadBalancerDecl,
    NetworkDecl,
    PricesDecl,
    PublicIpDecl,
    RuleDecl,
    Scenario,
    ServiceDecl,
    SiteDecl,
    SiteHostDecl,
    VpnDecl,
)
from facade.domain.states import ApplianceStatus, NodeRole, NodeStatus
from facade.readmodels.system import ScenarioRead
from facade.scenario import parse_scenario
from facade.service import (
    accounts,
    appliances,
    autoscaler,
    catalog,
    grants,
    health_checks,
    instances,
    internet,
    load_balancers,
    lookup,
    networks,
    public_ips,
    quotas,
    rules,
    sandboxes,
    sites,
    vpns,
)
from facade.service.billing import price_lists
from facade.service.context import Caller, Context
from facade.service.scenario.common import (
    Naming,
    answer,
    differs,
    located,
    matches,
    owned,
    rule_scope,
)
from facade.store.models import (
    Account,
    Appliance,
    Instance,
    LoadBalancer,
    Network,
    PublicIp,
    Service,
    Vpn,
)


def _account(ctx: Context, session: Session, caller: Caller, acc: AccountDecl) -> str:
    if session.scalar(select(Account).where(Account.name == acc.name)):
        return "unchanged"
    accounts.new_account(ctx, session, caller, acc.name)
    return "created"


def _path_as(sub: Any, ref: str) -> str:
    """A subnet's path as the file wrote it when it names that subnet (`account/net/sub` or
    `net/sub`), else its plain `net/sub` (what `differs` shows)."""
    return ref if matches(sub.network.account.name, sub.path, ref) else sub.path


def _named_as(row: Any, ref: str | None) -> str | None:
    """An object's name as the file wrote it when it names that object (`account/name` or
    `name`), else its plain name; None for no object."""
    if row is None:
        return None
    return ref if ref is not None and matches(row.account.name, row.name, ref) else row.name


def _network(ctx: Context, session: Session, caller: Caller, net: NetworkDecl) -> str:
    row = owned(session, Network, net.account, net.name)
    if row is None:
        networks.new_network(ctx, session, caller, net.name, net.account, net.cidr,
                             [{"name": s.name, "cidr": s.cidr, "internet": s.internet,
                               "sites": s.sites} for s in net.subnets],
                             public_gateway=net.public_gateway, outbound_nat=net.outbound_nat)
        return "created"
    if row.account.name != net.account:
        raise differs(net, "account", row.account.name, net.account)
    if row.cidr != net.cidr:
        raise differs(net, "cidr", row.cidr, net.cidr)
    have = {s.name: s.cidr for s in row.subnets}
    rows = {s.name: s for s in row.subnets}
    quotas.check(session, row.account, "subnets",
                 sum(1 for s in net.subnets if s.name not in have), where="subnets")
    added = False
    for sub in net.subnets:
        if sub.name not in have:
            with located(sub):
                networks.add_subnet(session, row, sub.name, sub.cidr, where="cidr",
                                    internet=sub.internet, sites=sub.sites)
            added = True
        elif have[sub.name] != sub.cidr:
            raise differs(sub, "cidr", have[sub.name], sub.cidr)
        else:
            with located(sub):  # its routes to the Internet and to the sites are settings
                added |= networks.set_internet(ctx, session, rows[sub.name], sub.internet)
                added |= networks.set_sites(ctx, session, rows[sub.name], sub.sites)
    if (row.public_gateway, row.outbound_nat) != (net.public_gateway, net.outbound_nat):
        # the public gateway is a setting: the file's replaces the current one
        public_ips.set_gateway(ctx, session, row, net.public_gateway, net.outbound_nat)
        added = True
    return "updated" if added else "unchanged"


def _grant(ctx: Context, session: Session, caller: Caller, decl: GrantDecl) -> str:
    sub = lookup.visible_subnet(session, caller, decl.subnet, grants=True)
    if lookup.granted(session, sub, lookup.account(session, decl.account).id):
        return "unchanged"
    grants.add(ctx, session, caller, decl.subnet, decl.account)
    return "created"


def _load_balancer(ctx: Context, session: Session, caller: Caller,
                   decl: LoadBalancerDecl) -> str:
    """An offer that exists with the same account and management subnet: unchanged; with
    other ones: a conflict (withdraw it first), as for services."""
    row = owned(session, LoadBalancer, decl.account, decl.name)
    if row is None:
        load_balancers.new_offer(ctx, session, caller, name=decl.name, account=decl.account,
                                 management_subnet=decl.management_subnet)
        return "created"
    if row.account.name != decl.account:
        raise differs(decl, "account", row.account.name, decl.account)
    # its management subnet is its owner's to see: anyone else cannot act for the owner
    lookup.acting_account(session, caller, decl.account)
    if not matches(row.account.name, row.management_subnet.path, decl.management_subnet):
        raise differs(decl, "management_subnet", row.management_subnet.path,
                       decl.management_subnet)
    return "unchanged"


def _service(ctx: Context, session: Session, caller: Caller, svc: ServiceDecl) -> str:
    row = owned(session, Service, svc.account, svc.name)
    if row is None:
        catalog.new_service(ctx, session, caller, name=svc.name, account=svc.account,
                            workload_name=svc.workload, command=svc.command, port=svc.port,
                            backend_subnet=svc.backend_subnet,
                            management_subnet=svc.management_subnet,
                            health_path=svc.health_path, upstream=svc.upstream,
                            prices=svc.prices_plain or None, billing_model=svc.billing_model,
                            frontend=svc.frontend, extra_subnets=list(svc.extra_subnets),
                            limits=dict(svc.limits), health_check=dict(svc.health_check),
                            tenancy=svc.tenancy)
        if svc.autoscale is not None:
            _set_autoscale(ctx, session, svc)
        return "created"
    want_prices, want_model = price_lists.service_terms(session, svc.prices_plain or None,
                                                        svc.billing_model)
    have_prices, have_model = price_lists.terms_of(row)
    for what, have, want in (
            ("account", row.account.name, svc.account), ("workload", row.workload, svc.workload),
            ("command", row.command, svc.command), ("port", row.port, svc.port),
            ("upstream", row.upstream, svc.upstream),
            ("frontend", _named_as(row.frontend, svc.frontend), svc.frontend),
            ("backend_subnet", _path_as(row.backend_subnet, svc.backend_subnet),
             svc.backend_subnet),
            ("management_subnet", _path_as(row.management_subnet, svc.management_subnet),
             svc.management_subnet),
            ("extra_subnets", [_path_as(e.subnet, want) for e, want in zip(
                row.extra_subnets, [*svc.extra_subnets, *[""] * len(row.extra_subnets)],
                strict=False)], list(svc.extra_subnets)),
            ("billing_model", have_model.value, want_model.value),
            ("tenancy", row.tenancy, svc.tenancy)):
        if have != want:
            raise differs(svc, what, have, want)
    if have_prices != want_prices:
        raise differs(svc, "prices", price_lists.service_view_of(have_prices),
                       price_lists.service_view_of(want_prices))
    # the autoscaling policy and the limits are settings: the file's replace the current ones
    changed = _set_limits(ctx, session, row, svc.limits)
    changed |= _set_health_check(ctx, session, row, svc.health_check)
    have_policy = autoscaler.current(session, row)
    if have_policy != svc.autoscale:
        if svc.autoscale is None:
            autoscaler.remove(ctx, session, row)
        else:
            _set_autoscale(ctx, session, svc)
        changed = True
    return "updated" if changed else "unchanged"


def _set_limits(ctx: Context, session: Session, row: Instance | Service,
                limits: tuple[tuple[str, int], ...]) -> bool:
    """The file's limits, the others back to their defaults; True if something changed."""
    given = dict(limits)
    if not sandboxes.store(row, {k: given.get(k) for k in sandboxes.COLUMNS}):
        return False
    kind = "instance" if isinstance(row, Instance) else "service"
    ctx.event(session, f"{kind}.limits", row.name,
              f"limits now {sandboxes.of_row(row).as_dict()} (from a scenario file)",
              account=row.name_scope_id if isinstance(row, Instance) else row.account_id)
    return True


def _set_health_check(ctx: Context, session: Session, row: Service,
                      given: tuple[tuple[str, Any], ...]) -> bool:
    """The file's health check (its health_path the path), the rest back to the defaults;
    True if something changed."""
    settings = dict(given)
    if not health_checks.store(row, {k: settings.get(k) for k in health_checks.COLUMNS}):
        return False
    ctx.event(session, "service.health_check", row.name,
              f"health check now {health_checks.describe(health_checks.of_row(row))} "
              "(from a scenario file)",
              account=row.account_id)
    return True


def _set_autoscale(ctx: Context, session: Session, svc: ServiceDecl) -> None:
    p = svc.autoscale
    assert p is not None
    row = owned(session, Service, svc.account, svc.name)
    assert row is not None
    autoscaler.put_policy(session, ctx, row, min=p.min, max=p.max, metric=p.metric,
                          target=p.target, cooldown=p.cooldown)


def _prices(ctx: Context, session: Session, caller: Caller, decl: PricesDecl) -> str:
    """The operator's instance prices and front-end providers' prices: set when they differ
    (they are settings, not objects: a new price list is in force from now on)."""
    changed = False
    if decl.instances is not None:
        changed |= price_lists.set_instances_in(ctx, session, caller, decl.instances_plain)[1]
    if decl.edge is not None:
        changed |= price_lists.set_edge_in(ctx, session, caller, decl.edge_plain)[1]
    for account, price in decl.frontend:
        data = {"node_hour": price, **({"currency": decl.currency} if decl.currency else {})}
        changed |= price_lists.set_frontend_in(ctx, session, caller, account, data)[1]
    return "updated" if changed else "unchanged"


def _instance(ctx: Context, session: Session, caller: Caller, inst: InstanceDecl) -> str:
    row = owned(session, Instance, inst.account, inst.name, scope=Instance.name_scope_id)
    if row is None:
        instances.new_instance(ctx, session, caller, inst.name, inst.account,
                               [{"subnet": i.subnet, "ip": i.ip} for i in inst.interfaces],
                               dict(inst.limits), public_ip=inst.public_ip, host=inst.host)
        return "created"
    have = [(_path_as(i.subnet, w.subnet), i.ip)
            for i, w in zip(row.interfaces, inst.interfaces, strict=False)]
    have += [(i.subnet.path, i.ip) for i in row.interfaces[len(have):]]
    same = len(have) == len(inst.interfaces) and all(
        h[0] == w.subnet and (w.ip is None or w.ip == h[1])
        for h, w in zip(have, inst.interfaces, strict=True))
    if row.status == NodeStatus.DELETING or not same or row.account.name != inst.account:
        raise differs(inst, "interfaces", [f"{s}={ip}" for s, ip in have],
                       [i.subnet + (f"={i.ip}" if i.ip else "") for i in inst.interfaces])
    standard = session.scalar(select(PublicIp.address).where(
        PublicIp.instance_id == row.id, PublicIp.standard.is_(True))) is not None
    if standard != inst.public_ip:  # made with the instance, or not: not a setting
        raise differs(inst, "public_ip", standard, inst.public_ip)
    placed = row.host.name if row.host is not None else None
    if inst.host is not None and (placed or "local") != inst.host:  # placement is made once
        raise differs(inst, "host", placed or "local", inst.host)
    return "updated" if _set_limits(ctx, session, row, inst.limits) else "unchanged"


def _external(ctx: Context, session: Session, caller: Caller, decl: ExternalDecl) -> str:
    row = owned(session, Instance, decl.account, decl.name, scope=Instance.name_scope_id)
    if row is None:
        internet.new_external(ctx, session, caller, decl.name, decl.account, decl.ip)
        return "created"
    if row.role != NodeRole.EXTERNAL or row.account.name != decl.account:
        raise differs(decl, "account", f"{row.account.name}'s {row.role}",
                       f"{decl.account}'s external host")
    have = row.interfaces[0].ip if row.interfaces else None
    if row.status == NodeStatus.DELETING or (decl.ip is not None and decl.ip != have):
        raise differs(decl, "ip", have, decl.ip)
    return "unchanged"


def _site(ctx: Context, session: Session, caller: Caller, decl: SiteDecl) -> str:
    row = owned(session, Network, decl.account, decl.name)
    if row is None:
        sites.new_site(ctx, session, caller, decl.name, decl.account, decl.cidr)
        return "created"
    if row.kind != sites.KIND or row.account.name != decl.account:
        raise differs(decl, "account", f"{row.account.name}'s {row.kind} network",
                       f"{decl.account}'s site")
    if row.cidr != decl.cidr:
        raise differs(decl, "cidr", row.cidr, decl.cidr)
    return "unchanged"


def _site_host(ctx: Context, session: Session, caller: Caller, decl: SiteHostDecl) -> str:
    session.flush()  # the sites the file just declared
    place = sites.find(session, caller, decl.site_ref)
    row = session.scalar(select(Instance).where(Instance.name == decl.name,
                                                Instance.name_scope_id == place.account_id))
    if row is None:
        sites.new_host(ctx, session, caller, decl.site_ref, decl.name, decl.ip)
        return "created"
    site = row.interfaces[0].subnet.network.name if row.interfaces else None
    if row.role != NodeRole.SITE_HOST or site != decl.site:
        raise differs(decl, "site", f"{row.role} of {site}", f"site host of {decl.site}")
    have = row.interfaces[0].ip if row.interfaces else None
    if row.status == NodeStatus.DELETING or (decl.ip is not None and decl.ip != have):
        raise differs(decl, "ip", have, decl.ip)
    return "unchanged"


def _vpn(ctx: Context, session: Session, caller: Caller, decl: VpnDecl) -> str:
    session.flush()
    net = lookup.network(session, caller, decl.network)
    row = session.scalar(select(Vpn).where(Vpn.name == decl.name, Vpn.deleted_at.is_(None),
                                           Vpn.account_id == net.account_id))
    if row is None:
        vpns.new_vpn(ctx, session, caller, decl.name, decl.network, decl.site)
        return "created"
    for what, have, want in (("network", row.network.name if row.network else None,
                              decl.network),
                             ("site", row.site.name if row.site else None, decl.site)):
        if have != want:
            raise differs(decl, what, have, want)
    return "unchanged"


def _site_ip(ctx: Context, session: Session, caller: Caller, decl: PublicIpDecl) -> str:
    owner = lookup.acting_account(session, caller, decl.account)
    site = sites.find(session, caller, decl.site or "")
    have = session.scalar(select(PublicIp).where(PublicIp.site_id == site.id,
                                                 PublicIp.site_address == decl.address))
    if have is not None and have.account_id == owner.id:
        return "unchanged"
    row = public_ips.new_address(ctx, session, caller, decl.account)
    public_ips.bind_site(ctx, session, caller, row, decl.site or "", decl.address)
    return "created"


def _public_ip(ctx: Context, session: Session, caller: Caller, decl: PublicIpDecl) -> str:
    """The target's customer address: one exists already (of the account), unchanged;
    else one is allocated and associated."""
    session.flush()  # the instances and appliances the file just declared
    if decl.site is not None:
        return _site_ip(ctx, session, caller, decl)
    owner = lookup.acting_account(session, caller, decl.account)
    inst, index, _, _ = public_ips.target_of(session, caller, owner.id, decl.instance,
                                             decl.appliance, decl.iface)
    have = public_ips.bound_to(session, inst, index)
    if have is not None and not have.standard and have.account_id == owner.id:
        return "unchanged"
    row = public_ips.new_address(ctx, session, caller, decl.account)
    public_ips.bind(ctx, session, caller, row, decl.instance, decl.iface, decl.appliance)
    return "created"


def _appliance(ctx: Context, session: Session, caller: Caller, app: ApplianceDecl) -> str:
    row = owned(session, Appliance, app.account, app.name)
    if row is None:
        appliances.new_appliance(ctx, session, caller, name=app.name, account=app.account,
                                 service=app.service, subnet=app.subnet, backends=app.backends,
                                 tenancy=app.tenancy)
        return "created"
    for what, have, want in (("account", row.account.name, app.account),
                             ("service", _named_as(row.service, app.service), app.service),
                             ("subnet", _path_as(row.subnet, app.subnet), app.subnet),
                             ("tenancy", row.tenancy, app.tenancy)):
        if have != want:
            raise differs(app, what, have, want)
    if row.status == ApplianceStatus.DELETING:
        raise Conflict(f"appliance {app.name} is being deleted; apply again once it is gone",
                       where=app.where)
    if row.desired_backends != app.backends:
        appliances.rescale(ctx, session, row, app.backends)
        return "updated"
    return "unchanged"


def _rule(ctx: Context, session: Session, caller: Caller, decl: RuleDecl) -> str:
    """Same rule at the same place: unchanged; a different rule at that priority: a conflict
    (delete it first), as for every other declaration."""
    session.flush()  # instances the file just declared
    scope = rule_scope(session, caller, decl)
    want = decl.rule
    row = rules.find(session, scope, want.direction, want.priority)
    if row is None:
        fields = {"direction": want.direction, "action": want.action, "protocol": want.protocol,
                  "ports": want.ports, "cidr": want.cidr, "priority": want.priority}
        rules.add(ctx, session, scope, fields)
        return "created"
    have = rules.spec_of(row)
    if have != want:
        raise differs(decl, "rule", rules.view(row), rules.view_of(want))
    return "unchanged"


def _apply(ctx: Context, session: Session, caller: Caller,
           sc: Scenario, naming: Naming) -> list[dict[str, str]]:
    changes: list[dict[str, str]] = []
    steps: list[tuple[Any, tuple[Declaration, ...]]] = [
        (_account, sc.accounts), (_prices, sc.prices), (_network, sc.networks),
        (_site, sc.sites), (_vpn, sc.vpns),
        (_grant, sc.grants), (_load_balancer, sc.load_balancers), (_service, sc.services),
        (_instance, sc.instances), (_external, sc.external_hosts), (_site_host, sc.site_hosts),
        (_rule, sc.rules), (_appliance, sc.appliances), (_public_ip, sc.public_ips)]
    for step, decls in steps:
        for decl in decls:
            with located(decl):
                action = step(ctx, session, caller, decl)
            changes.append(naming.change(action, decl))
    return changes


class _Rehearsed(Exception):
    """Leaves a dry run's transaction, which rolls it back, with what it would have done."""

    def __init__(self, changes: list[dict[str, str]]) -> None:
        super().__init__("dry run")
        self.changes = changes


def apply(ctx: Context, caller: Caller, text: str, filename: str, *,
          dry_run: bool = False) -> ScenarioRead:
    """With `dry_run`, the same transaction, checks and answer (each change it would make, or
    the error at the file's line), rolled back: nothing is stored, nothing reaches the kernel."""
    sc = parse_scenario(text, filename)
    naming = Naming(caller, sc)
    try:
        with ctx.write() as session:
            changes = _apply(ctx, session, caller, sc, naming)
            if dry_run:
                raise _Rehearsed(changes)
    except _Rehearsed as rehearsal:
        return answer(rehearsal.changes, naming.appliances, dry_run=True)
    if any(c["action"] != "unchanged" for c in changes):
        ctx.converge()
    return answer(changes, naming.appliances)
