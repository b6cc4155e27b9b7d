"""`hosts: N` at start (`facade up --hosts N`, or a settings file's `hosts: N`;
docs/multi-host.md, "Simulated hosts at start"): simulated hosts h1..hN made if missing.

Idempotent: a restart with the same N changes nothing (`hosts.restore` has run those that
exist again already). A host of those names that exists is kept as it is (a draining one
stays draining; a machine's host of that name is left alone and said so); a removed one is
made again, as `facade host add` would. Fewer than the simulated hosts recorded: nothing is
removed (the extra ones may hold nodes; removing is the operator's `facade host remove`),
and the answer says which are extra.
"""

from __future__ import annotations

from sqlalchemy import select

from facade.domain import hosts
from facade.domain.errors import FacadeError
from facade.domain.states import HostState
from facade.service import hosts as host_rows
from facade.service.context import Context
from facade.service.lookup import OPERATOR_VIEW
from facade.store.models import Host


def ensure(ctx: Context, count: int) -> list[str]:
    """Simulated hosts h1..h`count` running; one line per thing done or left alone, for the
    operator (the server prints them)."""
    count = hosts.check_count(count)
    with ctx.read() as session:
        live = {h.name: h for h in session.scalars(
            select(Host).where(Host.state != HostState.REMOVED))}
    wanted = hosts.start_names(count)
    notes = []
    for name in wanted:
        row = live.get(name)
        if row is not None and not row.simulated:
            notes.append(f"host {name} is a machine's (its agent registered it), not a "
                         "simulated host: left alone")
            continue
        if row is not None:
            continue
        try:
            made = host_rows.add(ctx, OPERATOR_VIEW, {"name": name, "simulated": True})
        except FacadeError as exc:
            notes.append(f"simulated host {name} could not be made: {exc.message}")
            continue
        notes.append(f"simulated host {name} made at {made.address}")
    extra = sorted(n for n, h in live.items() if h.simulated and n not in wanted)
    if extra:
        notes.append(f"hosts: {count} asks for fewer simulated hosts than are recorded; "
                     f"{', '.join(extra)} left alone (facade host drain, then facade host "
                     "remove, to take one out)")
    return notes
