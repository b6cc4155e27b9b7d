"""The client's TypedDicts (facade.client.models) say what the API answers: one per answer
schema of facade.api.schemas (`XRead` -> `X`), with the same keys, the same required keys."""

from __future__ import annotations

import inspect
from typing import is_typeddict

import pytest
from pydantic import BaseModel

from facade.api import schemas
from facade.client import models

READS = {name.removesuffix("Read"): model for name, model in vars(schemas).items()
         if inspect.isclass(model) and issubclass(model, BaseModel)
         and model.__module__.startswith((f"{schemas.__name__}.", "facade.readmodels."))
         and name.endswith("Read")}


def test_every_answer_schema_has_its_typed_dict() -> None:
    assert READS, "no answer schemas found"
    missing = sorted(name for name in READS if not is_typeddict(getattr(models, name, None)))
    assert missing == []


@pytest.mark.parametrize("name", sorted(READS))
def test_a_typed_dict_has_the_schemas_keys(name: str) -> None:
    model = READS[name]
    typed = getattr(models, name)
    assert set(typed.__annotations__) == set(model.model_fields)
    required = {k for k, f in model.model_fields.items() if f.is_required()}
    assert set(typed.__required_keys__) == required
