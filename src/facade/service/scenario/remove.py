"""destroy of a scenario file: what the file describes deleted, dependents first. Public IPs,
rules, grants, appliances, instances, external hosts and site hosts go first (the appliances and instances marked `deleting`, and waited
for until the controller has seen their kernel objects gone); then vpns, services,
load-balancer offers, networks, sites and accounts. A rehearsal on a rolled-back transaction refuses, before
anything is marked, what the second phase would refuse. Called through
facade.service.scenario.destroy (the API's POST /v1/destroy).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.errors import Conflict, FacadeError, InUse
from facade.domain.scenario import (
    ApplianceDecl,
    Declaration,
    ExternalDecl,
    GrantDecl,
    InstanceDecl,
    PublicIpDecl,
    RuleDecl,
    Scenario,
    SiteHostDecl,
)
from facade.domain.states import NodeRole, NodeStatus
from facade.readmodels.system import ScenarioRead
from facade.scenario import parse_scenario
from facade.service import (
    accounts,
    appliances,
    catalog,
    chains,
    grants,
    load_balancers,
    lookup,
    networks,
    public_ips,
    rules,
    sites,
    vpns,
)
from facade.service.context import Caller, Context
from facade.service.scenario.common import Naming, answer, located, owned, rule_scope
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


def _remove_grant(ctx: Context, session: Session, caller: Caller, decl: GrantDecl) -> str:
    try:
        sub = lookup.visible_subnet(session, caller, decl.subnet)
        grantee = lookup.account(session, decl.account)
    except FacadeError:
        return "absent"  # its subnet or account is gone (or not the caller's): so is the grant
    if not lookup.granted(session, sub, grantee.id):
        return "absent"
    grants.remove(ctx, session, caller, decl.subnet, decl.account)
    return "deleted"


def _remove_rule(ctx: Context, session: Session, caller: Caller, decl: RuleDecl) -> str:
    try:
        scope = rule_scope(session, caller, decl)
    except FacadeError:
        return "absent"  # its subnet or instance is gone (or not the caller's): so is the rule
    if rules.find(session, scope, decl.rule.direction, decl.rule.priority) is None:
        return "absent"
    rules.remove(ctx, session, scope, decl.rule.direction, decl.rule.priority)
    return "deleted"


def _own_appliance(session: Session, caller: Caller, decl: ApplianceDecl) -> Appliance | None:
    row = owned(session, Appliance, decl.account, decl.name)
    return row if row is not None and caller.may_see(row.account_id) else None


def _own_instance(session: Session, caller: Caller,
                  decl: InstanceDecl | ExternalDecl | SiteHostDecl) -> Instance | None:
    if isinstance(decl, SiteHostDecl):
        try:
            account = sites.find(session, caller, decl.site_ref).account.name
        except FacadeError:
            return None  # its site is gone (or not the caller's): so is the host
    else:
        account = decl.account
    row: Instance | None = owned(session, Instance, account, decl.name,
                                 scope=Instance.name_scope_id)
    if row is None or not caller.may_see(row.account_id) or row.role != _role(decl):
        return None
    return row


def _remove_public_ip(ctx: Context, session: Session, caller: Caller,
                      decl: PublicIpDecl) -> str:
    """The customer address of the declared target goes (disassociated and released)."""
    if decl.site is not None:
        site = owned(session, Network, decl.account, decl.site, Network.kind == sites.KIND)
        found = session.scalar(select(PublicIp).where(
            PublicIp.site_id == site.id, PublicIp.site_address == decl.address)) \
            if site is not None and caller.may_see(site.account_id) else None
        if found is None:
            return "absent"
        public_ips.unbind(ctx, session, found, "its scenario was destroyed")
        public_ips.drop(ctx, session, found)
        return "deleted"
    try:
        owner = lookup.account(session, decl.account)
        inst, index, _, _ = public_ips.target_of(session, caller, owner.id, decl.instance,
                                                 decl.appliance, decl.iface)
    except FacadeError:
        return "absent"  # its target is gone (or not the caller's): its address went with it
    row = public_ips.bound_to(session, inst, index)
    if row is None or row.standard or row.account_id != owner.id:
        return "absent"
    public_ips.unbind(ctx, session, row, "its scenario was destroyed")
    public_ips.drop(ctx, session, row)
    return "deleted"


def _nodes(sc: Scenario) -> list[InstanceDecl | ExternalDecl | SiteHostDecl]:
    """The file's instances, external hosts and site hosts: marked and waited for alike."""
    return [*sc.instances, *sc.external_hosts, *sc.site_hosts]


def _role(decl: InstanceDecl | ExternalDecl | SiteHostDecl) -> NodeRole:
    if isinstance(decl, SiteHostDecl):
        return NodeRole.SITE_HOST
    return NodeRole.EXTERNAL if isinstance(decl, ExternalDecl) else NodeRole.INSTANCE


def _remove_declared(ctx: Context, session: Session, caller: Caller, sc: Scenario,
                     note: Callable[[str, Declaration], None]) -> None:
    """destroy's second phase: services, load-balancer offers, networks and accounts, once
    their users are gone."""
    for vdecl in reversed(sc.vpns):
        try:
            owner = lookup.network(session, caller, vdecl.network).account_id
        except FacadeError:
            owner = None  # its network is gone (or not the caller's): so is the channel
        vrow = session.scalar(select(Vpn).where(Vpn.name == vdecl.name, Vpn.account_id == owner,
                                                Vpn.deleted_at.is_(None)))
        if vrow is None or not caller.may_see(vrow.account_id):
            note("absent", vdecl)
            continue
        with located(vdecl):
            vpns.remove(ctx, session, vrow)
        note("deleted", vdecl)
    session.flush()
    for svc in sc.services:
        srow = owned(session, Service, svc.account, svc.name)
        if srow is None:
            note("absent", svc)
            continue
        catalog.remove(ctx, session, caller, srow)
        note("deleted", svc)
    session.flush()  # the services just removed no longer name their offers
    for lb in reversed(sc.load_balancers):
        lbrow = owned(session, LoadBalancer, lb.account, lb.name)
        if lbrow is None:
            note("absent", lb)
            continue
        with located(lb):
            load_balancers.remove(ctx, session, caller, lbrow)
        note("deleted", lb)
    for net in reversed(sc.networks):
        nrow = owned(session, Network, net.account, net.name)
        if nrow is None:
            note("absent", net)
            continue
        networks.remove_network(ctx, session, caller, nrow)
        note("deleted", net)
    for sdecl in reversed(sc.sites):
        siterow = owned(session, Network, sdecl.account, sdecl.name, Network.kind == sites.KIND)
        if siterow is None:
            note("absent", sdecl)
            continue
        with located(sdecl):
            sites.remove(ctx, session, sites.find(session, caller,
                                                  f"{sdecl.account}/{sdecl.name}"))
        note("deleted", sdecl)
    for acc in reversed(sc.accounts):
        acrow = session.scalar(select(Account).where(Account.name == acc.name))
        if acrow is None:
            note("absent", acc)
            continue
        try:
            accounts.remove(ctx, session, caller, acrow)
        except InUse:  # it owns things this file does not describe: keep it
            note("kept", acc)
            continue
        note("deleted", acc)


def _rehearse(ctx: Context, caller: Caller, sc: Scenario) -> None:
    """Play destroy's second phase on a transaction that is always rolled back, as if the
    controller had already removed the file's appliances and instances; raises what it would."""
    with ctx.sessions() as session:
        try:
            for ipdecl in sc.public_ips:
                _remove_public_ip(ctx, session, caller, ipdecl)
            for app in sc.appliances:
                arow = _own_appliance(session, caller, app)
                if arow is not None:
                    for node in list(arow.nodes):
                        public_ips.release_for_instance(ctx, session, node)
                        session.delete(node)
                    session.flush()
                    session.delete(arow)
            for inst in _nodes(sc):
                irow = _own_instance(session, caller, inst)
                if irow is not None:
                    public_ips.release_for_instance(ctx, session, irow)
                    session.delete(irow)
            session.flush()
            _remove_declared(ctx, session, caller, sc, lambda action, decl: None)
            session.flush()
        finally:
            session.rollback()


def destroy(ctx: Context, caller: Caller, text: str, filename: str,
            timeout: float = 60.0) -> ScenarioRead:
    """Delete what the file describes, dependents first; waits for appliances and instances to
    leave the kernel before their subnets and networks go."""
    sc = parse_scenario(text, filename)
    changes: list[dict[str, str]] = []

    naming = Naming(caller, sc)

    def note(action: str, decl: Declaration) -> None:
        changes.append(naming.change(action, decl))

    app_names = [a.name for a in sc.appliances]
    app_ids: list[int] = []  # what this destroy marked, waited for by id (names are per account)
    inst_ids: list[int] = []
    with ctx.lock:
        # Refuse now, before anything is marked, what the second phase would refuse later
        # (another tenant's network, a subnet something else still uses...): a refused destroy
        # changes nothing.
        _rehearse(ctx, caller, sc)
        with ctx.write() as session:
            # an appliance that appliances outside the file still call stays (409 at its line)
            for app in sc.appliances:
                arow = _own_appliance(session, caller, app)
                if arow is not None:
                    chains.check_deletable(session, arow, also_deleting=set(app_names),
                                           where=app.where)
            for ipdecl in sc.public_ips:
                with located(ipdecl):
                    note(_remove_public_ip(ctx, session, caller, ipdecl), ipdecl)
            for decl in sc.rules:
                with located(decl):
                    note(_remove_rule(ctx, session, caller, decl), decl)
            for gdecl in sc.grants:
                with located(gdecl):
                    note(_remove_grant(ctx, session, caller, gdecl), gdecl)
            for app in sc.appliances:
                arow = _own_appliance(session, caller, app)
                if arow is None:
                    note("absent", app)
                    continue
                appliances.mark_deleting(ctx, session, arow)
                app_ids.append(arow.id)
                note("deleted", app)
            for inst in _nodes(sc):
                irow = _own_instance(session, caller, inst)
                if irow is None:
                    note("absent", inst)
                    continue
                irow.status = NodeStatus.DELETING
                inst_ids.append(irow.id)
                public_ips.release_for_instance(ctx, session, irow)  # its standard one goes
                note("deleted", inst)
    deadline = time.monotonic() + timeout
    while True:
        ctx.converge(min(10.0, max(0.1, deadline - time.monotonic())))
        with ctx.read() as session:
            left = [*session.scalars(select(Appliance.name).where(
                Appliance.id.in_(app_ids))), *session.scalars(select(
                    Instance.name).where(Instance.id.in_(inst_ids)))]
        if not left or time.monotonic() > deadline:
            break
    if left:
        raise Conflict(f"still removing {', '.join(left)}; run destroy again", where=filename)
    with ctx.write() as session:
        _remove_declared(ctx, session, caller, sc, note)
    ctx.converge()
    return answer(changes, naming.appliances)
