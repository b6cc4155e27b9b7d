"""The keys of the controller's work queue: the objects it reconciles one at a time.

A key names one kernel-facing object of the desired state: a subnet's segment, a network's
router, a node (an instance, a front-end or a backend, with the processes that live in it), a
management network's agent, an appliance (its rotation and readiness), or the fabric's security
rules (one set). An orphan key names something the kernel has that the store no longer
explains (found by the slow resync from the kernel's names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["subnet", "router", "node", "agent", "appliance", "rules", "orphan-netns",
               "orphan-bridge", "orphan-process"]


@dataclass(frozen=True, order=True)
class Key:
    kind: Kind
    ident: int | str = 0

    def __str__(self) -> str:
        return f"{self.kind}:{self.ident}"


def subnet(subnet_id: int) -> Key:
    return Key("subnet", subnet_id)


def router(network_id: int) -> Key:
    return Key("router", network_id)


def node(instance_id: int) -> Key:
    return Key("node", instance_id)


def agent(network_id: int) -> Key:
    return Key("agent", network_id)


def appliance(appliance_id: int) -> Key:
    return Key("appliance", appliance_id)


RULES = Key("rules")
