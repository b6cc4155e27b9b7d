"""Hosts: the machines (or, on one machine, simulated hosts) that hold nodes
(docs/multi-host.md). A host has a name, an underlay address (None for the local host, the
control plane's own machine, which every plane has), a state, a capacity in nodes, the time
of its agent's last heartbeat, and whether it is simulated.

The rules here are pure: what a name may be, which state changes are allowed, when a host may
be removed. The service layer (service/hosts.py) loads the rows and applies them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from facade.domain import names
from facade.domain.errors import Conflict, Exhausted, InUse, Invalid, describe
from facade.domain.states import HostState

LOCAL = names.LOCAL_HOST
# how many nodes a host holds, as far as placement will count (slice 4): no limit is enforced
# yet, so this is what an operator reads, not a refusal
LOCAL_CAPACITY = 1000
DEFAULT_CAPACITY = 100  # a simulated host's, unless it is given
MAX_CAPACITY = 100_000
# the underlay of simulated hosts, inside the substrate namespace (routed nowhere): the route
# reflector at .1, hosts from .11 up (dataplane/linux/simhosts.py makes them there)
UNDERLAY = ipaddress.IPv4Network("172.31.0.0/24")
REFLECTOR_HOST = 1
LOCAL_UNDERLAY_HOST = 10  # the local host's (its fabric namespace's) leg, once a simulated host exists
FIRST_HOST = 11
# a host agent heartbeats every HEARTBEAT_EVERY seconds; a host whose agent sent none for
# LOST_AFTER seconds is lost (and a second agent may then take its name)
HEARTBEAT_EVERY = 1.0
AGENT_TOKEN_PREFIX = "fch_"  # a host agent's token, told apart from an account's (fcd_)
LOST_AFTER = 5.0
AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")


def check_name(name: object, *, simulated: bool = False, where: str = "name") -> str:
    """A host's name: a name as every other (names.check_name); a simulated host's must also
    fit its substrate port's name (names.MAX_HOST_NAME characters)."""
    checked = names.check_name(name, kind="host", where=where)
    if simulated:
        try:
            names.check_host_name(checked)
        except ValueError:
            raise Invalid(f"a simulated host's name is at most {names.MAX_HOST_NAME} "
                          f"characters (its port on the substrate is {names.HOST_PORT_PREFIX}"
                          f"NAME, {names.IFNAMSIZ} bytes at most), not {describe(name)}",
                          where=where) from None
    return checked


def check_address(value: object, *, where: str = "address") -> str:
    """A host's underlay address: one IPv4 address (what VXLAN and BGP reach it at)."""
    if isinstance(value, str):
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            pass
    raise Invalid(f"a host's underlay address is one IPv4 address (like 172.31.0.11), not "
                  f"{describe(value)}", where=where)


def check_simulated_address(value: object, *, where: str = "address") -> str:
    """A simulated host's underlay address: in UNDERLAY, from .FIRST_HOST up."""
    address = check_address(value, where=where)
    ip = ipaddress.IPv4Address(address)
    if ip not in UNDERLAY or not FIRST_HOST <= int(ip) - int(UNDERLAY.network_address) \
            < UNDERLAY.num_addresses - 1:
        raise Invalid(f"a simulated host's underlay address is in {UNDERLAY}, from "
                      f"{UNDERLAY[FIRST_HOST]} to {UNDERLAY[-2]}, not {address}", where=where)
    return address


def free_addresses(taken: Iterable[str]) -> Iterator[str]:
    """The underlay addresses a new simulated host may take, in order (a lazy walk)."""
    used = set(taken)
    for n in range(FIRST_HOST, UNDERLAY.num_addresses - 1):
        if str(UNDERLAY[n]) not in used:
            yield str(UNDERLAY[n])


def next_address(taken: Iterable[str]) -> str:
    """The first free underlay address; Exhausted (409) when the underlay is full."""
    for address in free_addresses(taken):
        return address
    raise Exhausted(f"the simulated hosts' underlay {UNDERLAY} has no free address left "
                    f"({UNDERLAY.num_addresses - 1 - FIRST_HOST} hosts)", where="address")


def check_agent_id(value: object, *, where: str = "agent") -> str:
    """The id a host agent chose at its start (it tells two agents of one host apart)."""
    if isinstance(value, str) and AGENT_ID.fullmatch(value):
        return value
    raise Invalid("an agent's id is 8-64 letters, digits, '.', '_' or '-' (the agent picks one "
                  f"at its start), not {describe(value)}", where=where)


def fresh(heartbeat: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a heartbeat at `heartbeat` says the agent is alive at `now`."""
    return heartbeat is not None and (now - heartbeat).total_seconds() < LOST_AFTER


def check_capacity(value: object, *, where: str = "capacity") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 1 <= value <= MAX_CAPACITY:
        raise Invalid(f"a host's capacity is a number of nodes, 1-{MAX_CAPACITY}, not "
                      f"{describe(value)}", where=where)
    return value


@dataclass(frozen=True)
class Host:
    """A host as the rules see it; `nodes`: how many nodes it holds now."""

    name: str
    address: str | None
    state: HostState
    capacity: int
    heartbeat: dt.datetime | None
    simulated: bool
    nodes: int = 0
    agent: str | None = None  # the id of the agent that registered last

    @property
    def local(self) -> bool:
        return self.name == LOCAL and self.address is None

    @property
    def detail(self) -> str:
        """What its state means now, for a person."""
        if self.local:
            return "the control plane's own machine: every node is on it"
        if self.state == HostState.REMOVED:
            return "removed: nothing is placed on it"
        if self.state == HostState.LOST:
            return (f"lost: its agent sent no heartbeat for {LOST_AFTER:g} s; it is ready "
                    "again when its agent does")
        if self.state == HostState.DRAINING:
            return "draining: nothing new is placed on it"
        if self.simulated and self.heartbeat is None:
            # a control plane without simulated agents drives a simulated host's namespace
            # itself (it is on this machine)
            return ("simulated on this machine: its namespace and FRR run, driven by the "
                    "control plane (no host agent yet); the scheduler places nodes on it")
        if self.simulated:
            return ("simulated on this machine: its namespace and FRR run, driven by its own "
                    "host agent (the control plane's child); the scheduler places nodes on it")
        return ""

    def drained(self) -> HostState:
        """The state `drain` moves it to; why not, as a Conflict (409)."""
        if self.state == HostState.REMOVED:
            raise Conflict(f"host {self.name} was removed; there is nothing to drain",
                           where="host")
        if self.local:
            # nothing can take the local host's nodes until nodes live on other hosts
            # (docs/multi-host.md, slice 2b): draining it would promise what nobody does
            raise Conflict("the local host holds every node of this control plane and no "
                           "other host can take them yet; it cannot be drained", where="host")
        return HostState.DRAINING

    def resumed(self) -> HostState:
        """The state `resume` moves a draining host back to (`ready`: new nodes may go on it
        again; what moved away stays where it went); why not, as a Conflict (409)."""
        if self.state == HostState.READY:
            return HostState.READY
        if self.state != HostState.DRAINING:
            raise Conflict(f"host {self.name} is {self.state}, not draining: there is nothing "
                           "to resume", where="host")
        return HostState.READY

    def registered(self, agent: str, now: dt.datetime) -> HostState:
        """The state an agent's registration moves the host to (a draining host stays
        draining; a lost simulated host stays lost until the host watch rejoins it; a lost
        machine or a removed host is ready again: nothing places nodes on machines yet, so
        nothing of one is to sweep); why not, as a Conflict (409): the
        local host has no agent, and another agent whose heartbeat is fresh holds the name."""
        if self.local:
            raise Conflict("the local host is the control plane's own machine: no agent "
                           "registers for it", where="host")
        if self.agent is not None and self.agent != agent and self.state != HostState.REMOVED \
                and fresh(self.heartbeat, now):
            assert self.heartbeat is not None
            age = (now - self.heartbeat).total_seconds()
            raise Conflict(f"host {self.name} has a live agent already (its last heartbeat "
                           f"{age:.1f} s ago): stop it, or wait {LOST_AFTER:g} s after it "
                           "stopped", where="host")
        if self.state == HostState.LOST and self.simulated:
            # its agent fences itself (the answer says lost) and the host watch rejoins it:
            # swept of what was made again elsewhere before its FRR starts again
            return HostState.LOST
        return HostState.DRAINING if self.state == HostState.DRAINING else HostState.READY

    def removable(self) -> None:
        """Nothing, when the host may be removed; why not, as a 409 naming what holds it."""
        if self.local:
            raise Conflict("the local host is the control plane's own machine: it cannot be "
                           "removed", where="host")
        if self.nodes:
            raise InUse(f"host {self.name} still holds {self.nodes} node"
                        f"{'' if self.nodes == 1 else 's'}; drain it and wait until it holds "
                        "none (a drain moves appliances' nodes; customer instances stay: "
                        "move or delete them)", where="host")


# `hosts: N` at start (`facade up --hosts N`, a settings file's `hosts:`): simulated hosts
# h1..hN, as many as the underlay has addresses for
MAX_START_HOSTS = UNDERLAY.num_addresses - 1 - FIRST_HOST
START_PREFIX = "h"


def check_count(value: object, *, where: str = "hosts") -> int:
    """How many simulated hosts to run at start: 0-MAX_START_HOSTS."""
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 0 <= value <= MAX_START_HOSTS:
        raise Invalid(f"hosts is a number of simulated hosts, 0-{MAX_START_HOSTS} (the "
                      f"underlay's free addresses), not {describe(value)}", where=where)
    return value


def start_names(count: int) -> list[str]:
    """The names of the simulated hosts `hosts: count` asks for: h1..hN."""
    return [f"{START_PREFIX}{n}" for n in range(1, count + 1)]
