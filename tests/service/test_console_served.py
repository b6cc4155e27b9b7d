"""The control plane's own app serves the console beside the API (api/console.py mounted by
create_app): the page at `/` and its files under `/console/`, with no token (the page holds
no data; everything it shows comes from /v1 with the signed-in token), while /v1 still wants
one; neither is an operation of the OpenAPI document."""

from __future__ import annotations

from tests.service.helpers import Api, err


def test_the_page_and_its_files_need_no_token_and_the_api_still_does(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and "Facade console" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = api.client.get("/console/js/app.js")
    assert script.status_code == 200 and "/v1/accounts" in script.text
    err(api.client.get("/v1/accounts"), 401)
    err(api.client.get("/console/nothing.css"), 404)


def test_the_console_is_not_part_of_the_api_document(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert paths and all(p.startswith(("/v1/", "/metrics")) for p in paths), sorted(paths)
