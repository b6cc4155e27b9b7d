"""The appliance views' look at what the agents said (service/appliances.observed): each
node's answer, a front-end's with its rotation, merged as a node is read."""

from __future__ import annotations

from typing import Any

from facade.service.appliances import Observed


def test_a_front_ends_answer_carries_its_rotation_and_others_are_as_said() -> None:
    management: dict[str, dict[str, Any]] = {
        "fe": {"reachable": True}, "b1": {"reachable": False}}
    rotations = {"fe": ["10.1.0.5"], "lonely-fe": []}
    seen = Observed(management, rotations)
    assert seen["fe"] == {"reachable": True, "rotation": ["10.1.0.5"]}
    assert seen["b1"] == {"reachable": False}
    assert seen.get("lonely-fe") == {"rotation": []}  # metered before its agent answered
    assert seen.get("nobody") is None
    assert sorted(seen) == ["b1", "fe", "lonely-fe"] and len(seen) == 3
    assert management["fe"] == {"reachable": True}, "the agents' answers were changed"
