"""How many of a thing one request may ask for: backends, interfaces, extra subnets, subnets.

The same bounds hold for an API body and a scenario file (both check them here), and for an
autoscaling policy's `min` and `max`, which are numbers of backends too.
"""

from __future__ import annotations

from facade.domain.errors import Invalid, describe

MIN_BACKENDS, MAX_BACKENDS = 1, 64  # backends of one appliance
MAX_INTERFACES = 8  # interfaces of one node (an instance, or a backend: eth0..eth7)
# a backend has its backend and management legs, and up to this many more
MAX_EXTRA_SUBNETS = MAX_INTERFACES - 2
# subnets one request declares in a network: each is checked against its siblings, so a
# request may not grow without bound (the subnet quota still applies on top)
MAX_SUBNETS = 256


def check_backends(n: object, *, where: str = "backends") -> int:
    """An appliance's number of backends (creating it, scaling it, or in a file)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise Invalid(f"backends must be a whole number {MIN_BACKENDS}-{MAX_BACKENDS}, not "
                      f"{describe(n)}", where=where)
    if not MIN_BACKENDS <= n <= MAX_BACKENDS:
        raise Invalid(f"backends {n} is out of range; expected {MIN_BACKENDS}-{MAX_BACKENDS}",
                      where=where)
    return n


def check_interfaces(count: int, *, where: str = "interfaces") -> int:
    """An instance's number of interfaces."""
    if count < 1:
        raise Invalid("an instance needs at least one interface, like "
                      "interfaces: [acme-vpc/app]", where=where)
    if count > MAX_INTERFACES:
        raise Invalid(f"an instance has at most {MAX_INTERFACES} interfaces (got {count})",
                      where=where)
    return count


def check_extra_subnets(count: int, *, where: str = "extra_subnets") -> int:
    if count > MAX_EXTRA_SUBNETS:
        raise Invalid(f"a service's backends have at most {MAX_EXTRA_SUBNETS} extra subnets "
                      f"(got {count})", where=where)
    return count


def check_subnets(count: int, *, where: str = "subnets") -> int:
    """The subnets one request declares in a network."""
    if count > MAX_SUBNETS:
        raise Invalid(f"a network declares at most {MAX_SUBNETS} subnets at once (got "
                      f"{count})", where=where)
    return count
