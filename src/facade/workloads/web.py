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

import argparse
import http.client
import json
from urllib.parse import urlsplit

from facade.workloads._httpd import Handler, Server, serve

MAX_BODY = 8 * 1024 * 1024
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


class WebHandler(Handler):
    upstream_file: str | None

    def do_GET(self) -> None:
        self.guarded(self._get)

    def do_POST(self) -> None:
        self.guarded(self._post)

    def _get(self) -> None:
        path = urlsplit(self.path).path
        me = self.server.backend
        if path == "/health":
            self.send_json(200, {"status": "ok", "backend": me})
        elif path == "/":
            name, endpoint = read_upstream(self.upstream_file)
            self.send_json(200, {"backend": me, "upstream": name, "endpoint": endpoint})
        else:
            self._forward(None)

    def _post(self) -> None:
        body = self.read_body(MAX_BODY)
        if body is not None:
            self._forward(body)

    def _forward(self, body: bytes | None) -> None:
        me = self.server.backend
        name, endpoint = read_upstream(self.upstream_file)
        hops = hops_of(self.headers.get(HOPS_HEADER)) + 1
        base = {"backend": me, "upstream": name, "endpoint": endpoint}
        if hops > MAX_HOPS:
            self.send_json(508, {**base, "error": f"more than {MAX_HOPS} hops: a loop of "
                                 "appliances?", "path": [me]})
            return
        if endpoint is None:
            why = (f"upstream appliance {name} does not exist (yet)" if name
                   else "this service has no upstream appliance")
            self.send_json(503, {**base, "error": why, "path": [me]})
            return
        host, _, port = endpoint.rpartition(":")
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=UPSTREAM_TIMEOUT)
        headers = {HOPS_HEADER: str(hops)}
        if body is not None:
            headers["Content-Type"] = self.headers.get("Content-Type", "application/json")
        try:
            conn.request(self.command, self.path, body, headers)
            response = conn.getresponse()
            raw = response.read()
            status, upstream_backend = response.status, response.getheader("X-Backend")
        except (OSError, http.client.HTTPException) as exc:
            self.send_json(502, {**base, "error": f"upstream {name} at {endpoint} did not "
                                 f"answer: {exc}", "path": [me]})
            return
        finally:
            conn.close()
        try:
            answer: object = json.loads(raw)
        except ValueError:
            answer = raw.decode("utf-8", errors="replace")
        self.send_json(status, {**base, "status": status,
                                "path": [me, *path_of(answer, upstream_backend)],
                                "answer": answer})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.workloads.web")
    parser.add_argument("--name", required=True, help="backend node name (X-Backend, path)")
    parser.add_argument("--ip", required=True, help="address to bind exactly")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--upstream-file",
                        help='JSON {"appliance": NAME, "endpoint": "IP:PORT"} (re-read per request)')
    args = parser.parse_args(argv)

    class Bound(WebHandler):
        upstream_file = args.upstream_file

    serve(Server(args.ip, args.port, Bound, args.name))


if __name__ == "__main__":
    main()
