"""The scenario loader under hypothesis: any text, any YAML value, any mutation of the example
is either a Scenario or an Invalid that names the file (and a line), never anything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facade.domain.errors import Invalid
from facade.domain.scenario import Scenario
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "search.yaml").read_text()
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
CASES = {"count": 0}


def _parse(text: str) -> None:
    CASES["count"] += 1
    try:
        result = parse_scenario(text, "fuzz.yaml")
    except Invalid as exc:
        assert exc.where and exc.where.startswith("fuzz.yaml"), exc.where
        assert exc.message
        return
    assert isinstance(result, Scenario)


@FUZZ
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    _parse(text)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)


@FUZZ
@given(st.dictionaries(st.sampled_from(
    ["accounts", "networks", "services", "instances", "appliances", "other"]), values,
    max_size=5))
def test_any_yaml_document(doc: dict[str, Any]) -> None:
    _parse(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(st.data())
def test_mutations_of_the_example(data: st.DataObject) -> None:
    lines = EXAMPLE.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "cut", "insert", "swap"]))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]))))]
        elif op == "insert":
            lines.insert(i, data.draw(st.text(max_size=40)))
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    _parse("\n".join(lines))


def test_cases_were_run() -> None:
    print(f"\nscenario loader fuzz: {CASES['count']} cases, no traceback")
    assert CASES["count"] >= 900 or CASES["count"] == 0  # 0 when run alone with -k
