"""The host agent's wire (dataplane/wire.py, intents.py): every spec and observation type of
domain/specs.py goes through JSON and comes back equal (hypothesis draws the values), and
input that is not its type is refused with the field named."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facade.dataplane import intents
from facade.dataplane.wire import Form, WireError, encode
from facade.domain import specs
from facade.domain.specs import (
    FrontendSpec,
    NodeSpec,
    ObservedNode,
    PortRuleSpec,
    PortSpec,
    ProbeResult,
    SandboxSpec,
)
from facade.domain.states import NodeRole

SPEC_TYPES = sorted((cls for cls in vars(specs).values()
                     if isinstance(cls, type) and dataclasses.is_dataclass(cls)
                     and cls.__module__ == specs.__name__), key=lambda c: c.__name__)

FINITE = st.floats(allow_nan=False, allow_infinity=False)


def _strategy(cls: type) -> st.SearchStrategy[Any]:
    """Values of `cls`, every field drawn from its type (floats finite: JSON has no NaN)."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: FINITE for f in dataclasses.fields(cls)
                             if hints[f.name] is float})


def _through_json(value: object) -> object:
    return json.loads(json.dumps(encode(value)))


def test_every_spec_type_is_covered() -> None:
    names = {cls.__name__ for cls in SPEC_TYPES}
    assert {"NodeSpec", "ProcessSpec", "PortRuleSpec", "SubnetSpec", "Probe", "ObservedNode",
            "ObservedState", "RulesObservation", "Inventory", "ExecResult",
            "ProbeResult", "DesiredState", "TunnelSpec", "GatewaySpec"} <= names


@pytest.mark.parametrize("cls", SPEC_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    value = data.draw(_strategy(cls))
    back = Form(cls).decode(_through_json(value))
    assert back == value
    assert type(back) is cls
    assert encode(back) == encode(value)  # the same JSON, frozensets sorted


def _node() -> NodeSpec:
    return NodeSpec(
        netns="fcd-i7-web", role=NodeRole.FRONTEND, host="h2",
        ports=(PortSpec(host="fcdv7", bridge="fcdb3", ifname="eth0", address="10.0.0.5/24",
                        gateway="10.0.0.1", mac="02:00:00:00:03:05", connected=True,
                        neighbours=("10.0.0.1",)),
               PortSpec(host="fcdv8", bridge="fcdb4", ifname="eth1", address="10.1.0.5/24")),
        frontend=FrontendSpec(customer_if="eth0", backend_if="eth1", endpoint="10.0.0.5",
                              port=80),
        sandbox=SandboxSpec(uid=100000, hostname="web", memory=1 << 28, pids=64,
                            cpu_weight=100, binds=(("/a", "/b"),)))


def test_a_node_spec_keeps_its_fingerprint_across_the_wire() -> None:
    spec = _node()
    back = intents.NODE.decode(_through_json(spec))
    assert back == spec and back.fingerprint() == spec.fingerprint()
    assert back.ports[0].neighbours == ("10.0.0.1",) and back.role is NodeRole.FRONTEND


def test_results_of_the_operations_round_trip() -> None:
    node = ObservedNode(netns="fcd-i7-web", fingerprint="ab", host="h2",
                        addresses=frozenset({("eth0", "10.0.0.5/24"), ("eth1", "10.1.0.5/24")}),
                        ports=frozenset({"eth0", "eth1"}), backends=("10.1.0.9",))
    assert intents.NODE_OR_NONE.decode(_through_json(node)) == node
    assert intents.NODE_OR_NONE.decode(None) is None
    assert intents.STARTED.decode(["wl7"]) == frozenset({"wl7"})
    assert intents.REMOVED_OR_NONE.decode(None) is None
    probe = ProbeResult(ok=True, detail="HTTP 200", status=200, body="ok",
                        headers={"x": "y"})
    assert intents.PROBED.decode(_through_json([probe, probe])) == [probe, probe]
    assert intents.OPTIONAL_BYTES.decode(encode(b"\x00\xffbody")) == b"\x00\xffbody"
    assert intents.NOTHING.decode(None) is None
    rules = {"fcdv7": (PortRuleSpec("ingress", "deny", "tcp", "22", "0.0.0.0/0", 10),)}
    assert intents.RULES.decode(_through_json(rules)) == rules


def test_frozensets_encode_in_one_order() -> None:
    a = frozenset({("eth1", "10.1.0.5/24"), ("eth0", "10.0.0.5/24")})
    assert encode(a) == [["eth0", "10.0.0.5/24"], ["eth1", "10.1.0.5/24"]]


@pytest.mark.parametrize(("mutate", "where", "words"), [
    (lambda d: d.update(extra=1), "extra", "unknown field of NodeSpec"),
    (lambda d: d.pop("netns"), "netns", "missing"),
    (lambda d: d.update(role="switch"), "role", "must be one of"),
    (lambda d: d["ports"][1].update(mac=5), "ports[1].mac", "must be"),
    (lambda d: d["ports"][0].update(connected="yes"), "ports[0].connected", "true or false"),
    (lambda d: d["ports"][0].update(neighbours="10.0.0.1"), "ports[0].neighbours",
     "an array"),
    (lambda d: d["frontend"].update(port=True), "frontend.port", "an integer"),
    (lambda d: d["frontend"].update(protocol="udp"), "frontend.protocol", "one of 'tcp'"),
    (lambda d: d["sandbox"].update(binds=[["/a"]]), "sandbox.binds[0]", "2 items"),
    (lambda d: d.update(ports={}), "ports", "an array"),
], ids=["unknown", "missing", "enum", "nested-optional", "bool", "tuple", "int-not-bool",
        "literal", "pair", "array"])
def test_bad_input_names_the_field(mutate: Any, where: str, words: str) -> None:
    data = encode(_node())
    mutate(data)
    with pytest.raises(WireError) as caught:
        intents.NODE.decode(data)
    assert caught.value.where == where
    assert words in str(caught.value)


def test_bad_values_of_plain_forms() -> None:
    with pytest.raises(WireError, match="base64"):
        intents.OPTIONAL_BYTES.decode("not base64!")
    with pytest.raises(WireError, match="must be null"):
        intents.NOTHING.decode(0)
    with pytest.raises(WireError, match="a number"):
        intents.NUMBER.decode("1")
    with pytest.raises(WireError) as caught:
        intents.PROBED.decode([{"ok": True}])
    assert caught.value.where == "[0].detail"
    hint: Any = str
    nested: Any = "x"
    for _ in range(20):
        hint, nested = tuple[hint, ...], [nested]
    with pytest.raises(WireError, match="too deep"):
        Form(hint).decode(nested)


def test_what_cannot_travel_is_refused_when_encoded() -> None:
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(TypeError):
        encode({1: "a"})
