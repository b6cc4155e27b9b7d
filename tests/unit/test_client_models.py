"""Each answer's shape is written once, as a read model (facade.readmodels): the API's answer
schemas are those very classes (facade.api.schemas re-exports them), every route answers one
(or a page of them), and the client's models (facade.client.models, `XRead` -> `X`) are them
too, so the control plane, the API document and the client cannot drift apart."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, get_args

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

import facade.api.routes
from facade.api import schemas
from facade.api.schemas import Body, Page
from facade.client import models

pytestmark = pytest.mark.no_store  # tests/conftest.py

READ_MODELS = "facade.readmodels."
# what the API's answer schemas are: every model of facade.api.schemas but the bodies
ANSWERS = {name: model for name, model in vars(schemas).items()
           if inspect.isclass(model) and issubclass(model, BaseModel)
           and not issubclass(model, Body | Page) and name != "AutoscaleWrite"}


def _routes() -> list[APIRoute]:
    found = []
    for info in pkgutil.iter_modules(facade.api.routes.__path__):
        module = importlib.import_module(f"{facade.api.routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        found += [r for r in getattr(router, "routes", []) if isinstance(r, APIRoute)]
    return found


def _answered(model: Any) -> Any:
    """The item model of a page (`Page[X]` -> X), else the model."""
    if inspect.isclass(model) and issubclass(model, Page):
        return model.model_fields["items"].annotation.__args__[0]  # list[X] -> X
    return model


def test_every_answer_schema_is_a_read_model() -> None:
    assert len(ANSWERS) > 40, "answer schemas not found"
    elsewhere = sorted(n for n, m in ANSWERS.items() if not m.__module__.startswith(READ_MODELS))
    assert elsewhere == []


def test_every_route_answers_a_read_model() -> None:
    routes = _routes()
    assert len(routes) > 60
    answered = {(r.path, tuple(r.methods)): _answered(r.response_model) for r in routes
                if r.response_model is not None}
    assert len(answered) > 50
    # no free-form JSON (a plain dict): the liveness answer and the topology have theirs too
    free = sorted(path for (path, _), m in answered.items() if not inspect.isclass(m))
    assert free == []
    assert answered[("/v1/topology", ("GET",))] is models.Topology
    assert answered[("/v1/health", ("GET",))] is models.Health
    not_read = sorted(k for k, m in answered.items()
                      if inspect.isclass(m) and not m.__module__.startswith(READ_MODELS))
    assert not_read == []


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_clients_model_is_the_read_model(name: str) -> None:
    assert getattr(models, name.removesuffix("Read")) is ANSWERS[name]


def test_a_page_is_answered_as_its_items_read_model() -> None:
    item = get_args(Page[schemas.NetworkRead].model_fields["items"].annotation)[0]
    assert item is _answered(Page[schemas.NetworkRead]) is models.Network


def test_every_list_route_answers_a_page_named_for_its_items() -> None:
    lists = {r.path: r.response_model for r in _routes()
             if r.operation_id and r.operation_id.startswith("list_")}
    assert len(lists) == 20, sorted(lists)  # with /v1/hosts
    for path, page in lists.items():
        assert inspect.isclass(page) and issubclass(page, Page), path
        assert page.__module__.startswith(READ_MODELS), path
        item = _answered(page)
        # AppliancePage holds ApplianceRead: the name the OpenAPI document gives its schema
        assert page.__name__ == item.__name__.removesuffix("Read") + "Page", path
        assert page.model_json_schema()["title"] == page.__name__


def test_a_page_holds_its_items_as_they_are_and_refuses_others() -> None:
    from facade.readmodels.networks import NetworkPage

    net = models.Network(name="n", account="a", cidr="10.0.0.0/16", router="r", subnets=[])
    page = NetworkPage.of([net], "c1")
    assert page.items[0] is net and page.next_cursor == "c1"
    with pytest.raises(ValueError, match="items.0"):
        NetworkPage.of([{"name": "n"}], None)  # type: ignore[list-item]
