"""Web tier workload: answers a request by calling the appliance it uses (chained appliances).

    python -m facade.workloads.web --name NODE --ip IP --port PORT [--upstream-file FILE]

The upstream file is JSON {"appliance": NAME|null, "endpoint": "IP:PORT"|null}, written by the
control plane from the service's `upstream` (docs/composition.md) and re-read on every request,
so an upstream created, replaced or deleted later is followed without a restart.

    GET /health            -> 200 {"status": "ok", "backend"}       (never needs the upstream)
    GET /                  -> 200 {"backend", "upstream", "endpoint"}  (this node alone)
    any other GET or POST  -> forwarded to the upstream with the same path, query and body;
                              the answer {"backend", "upstream", "endpoint", "status", "path",
                              "answer"} carries the upstream's status code, and `path` lists
                              every backend node the request went through, this one first.
    no upstream            -> 503; upstream unreachable -> 502; too many hops -> 508.

Stdlib only; every response carries `X-Backend: NODE`. A hop counter (X-Facade-Hops) stops a
request that would go round a loop of appliances.
"""

from __future__ import annotations

import json

from facade.workloads._httpc import BadResponse, request
from facade.workloads._httpd import (
    Handler,
    Request,
    Response,
    Server,
    json_response,
    lean_malloc,
    options,
    serve,
)

MAX_BODY = 8 * 1024 * 1024
MAX_ANSWER = 16 * 1024 * 1024  # bytes of an upstream's answer; a larger one is a 502
UPSTREAM_TIMEOUT = 5.0  # seconds per socket operation towards the upstream
MAX_HOPS = 16
HOPS_HEADER = "X-Facade-Hops"


def read_upstream(path: str | None) -> tuple[str | None, str | None]:
    """(appliance name, "IP:PORT") from the control plane's file; (None, None) if absent."""
    if not path:
        return None, None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        name, endpoint = data.get("appliance"), data.get("endpoint")
    except (OSError, ValueError, AttributeError):
        return None, None
    return (name if isinstance(name, str) else None,
            endpoint if isinstance(endpoint, str) else None)


def hops_of(value: str | None) -> int:
    try:
        return max(0, int(value or "0"))
    except ValueError:
        return 0


def path_of(answer: object, backend: str | None) -> list[str]:
    """The nodes an upstream answer went through: its own `path` (a web upstream) or the one
    backend that answered (any other workload: its `backend` field or X-Backend header)."""
    if isinstance(answer, dict):
        path = answer.get("path")
        if isinstance(path, list) and all(isinstance(p, str) for p in path):
            return list(path)
        if isinstance(answer.get("backend"), str):
            return [answer["backend"]]
    return [backend] if backend else []


def handler(backend: str, upstream_file: str | None) -> Handler:
    """The web tier's routes for node `backend`, forwarding to the upstream in the file."""

    def handle(req: Request) -> Response:
        if req.method == "GET" and req.path == "/health":
            return json_response(200, {"status": "ok", "backend": backend})
        if req.method == "GET" and req.path == "/":
            name, endpoint = read_upstream(upstream_file)
            return json_response(200, {"backend": backend, "upstream": name,
                                       "endpoint": endpoint})
        return forward(req, req.body() if req.method == "POST" else None)

    def forward(req: Request, body: bytes | None) -> Response:
        name, endpoint = read_upstream(upstream_file)
        hops = hops_of(req.header(HOPS_HEADER)) + 1
        base = {"backend": backend, "upstream": name, "endpoint": endpoint}
        if hops > MAX_HOPS:
            return json_response(508, {**base, "error": f"more than {MAX_HOPS} hops: a loop of "
                                       "appliances?", "path": [backend]})
        if endpoint is None:
            why = (f"upstream appliance {name} does not exist (yet)" if name
                   else "this service has no upstream appliance")
            return json_response(503, {**base, "error": why, "path": [backend]})
        fields = {HOPS_HEADER: str(hops)}
        if body is not None:
            fields["Content-Type"] = req.header("Content-Type", "application/json")
        try:
            host, _, port = endpoint.rpartition(":")
            status, answer_fields, raw = request(
                host.strip("[]"), int(port), req.method, req.target, body, fields,
                timeout=UPSTREAM_TIMEOUT, limit=MAX_ANSWER)
        except (OSError, ValueError, BadResponse) as exc:
            return json_response(502, {**base, "error": f"upstream {name} at {endpoint} did "
                                       f"not answer: {exc}", "path": [backend]})
        try:
            answer: object = json.loads(raw)
        except ValueError:
            answer = raw.decode("utf-8", errors="replace")
        path = [backend, *path_of(answer, answer_fields.get("x-backend"))]
        return json_response(status, {**base, "status": status, "path": path, "answer": answer})

    return handle


def main(argv: list[str] | None = None) -> None:
    args = options(argv, "python -m facade.workloads.web", ("name", "ip", "port"),
                   ("upstream-file",))
    lean_malloc()
    serve(Server(args["ip"], int(args["port"]), handler(args["name"], args.get("upstream-file")),
                 args["name"], max_body=MAX_BODY, at_once=frozenset({"/health"})))


if __name__ == "__main__":
    main()
