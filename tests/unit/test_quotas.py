"""Per-account quotas (docs/api.md, Quotas), the rule: its check and its message (the limits
through the API: tests/service/test_quotas.py)."""

from __future__ import annotations

import pytest

from facade.domain import quotas as rules
from facade.domain.errors import Invalid, QuotaExceeded

pytestmark = pytest.mark.no_store  # tests/conftest.py

# -- the rule ------------------------------------------------------------------------------

def test_the_rule_and_its_message() -> None:
    rules.check("acme", "networks", 5, 4)
    rules.check("acme", "networks", None, 10**6)
    with pytest.raises(QuotaExceeded) as exc:
        rules.check("acme", "networks", 5, 5, where="name")
    assert str(exc.value) == ("name: account acme may have at most 5 networks (quota); "
                              "it has 5")
    assert exc.value.status == 409
    with pytest.raises(QuotaExceeded, match="at most 1 backend .* it has 0 and asks for 2"):
        rules.check("acme", "backends", 1, 0, 2)
    for bad in (-1, 100_001, True, 1.5, "3", None):
        with pytest.raises(Invalid, match="0-100000"):
            rules.check_limit("subnets", bad)
    with pytest.raises(Invalid, match="unknown quota"):
        rules.check_limit("disks", 1)
    assert set(rules.DEFAULTS) == set(rules.RESOURCES)


# -- scenario files ------------------------------------------------------------------------

