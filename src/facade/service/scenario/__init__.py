"""apply and destroy of a scenario file: make what the file describes exist, idempotently.

The whole file is applied in ONE transaction: any error (naming the file's line) rolls back
everything, so a bad file changes nothing. Objects that exist already and match are
`unchanged`; an appliance whose backend count differs is scaled (`updated`); a network gains
the subnets the file adds. Anything else that differs is a conflict, never a silent rewrite.

Split by role: ensure.py (apply: each declaration made so), remove.py (destroy: dependents
first, waiting for the kernel), common.py (errors at the file's line, conflicts, a rule's
scope). The API calls `apply` and `destroy` from here.
"""

from facade.service.scenario.ensure import apply
from facade.service.scenario.remove import destroy

__all__ = ["apply", "destroy"]
