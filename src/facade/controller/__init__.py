"""The controller: the loops that make the kernel match the store, above the service layer.

Modules: `queue` (the work queue of keys), `loop` (Controller: workers, resync, engines; the
Kicker the service layer sees), `runtime` (what reconcilers share), the reconcilers one per kind
of key (`fabric`: subnets, routers, security rules, orphans; `nodes`; `agents`; `appliances`),
`health` (the health engine) with `healing` (which backends to replace), `engines`
(management polls, metering) with `autoscaling` (the scaler metering feeds). See docs/architecture.md, "The controller".
"""

from facade.controller.loop import Controller

__all__ = ["Controller"]
