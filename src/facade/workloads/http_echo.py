"""HTTP echo workload: answers with its backend node name, so tests can see who served them.

    python -m facade.workloads.http_echo --name NODE --ip IP --port PORT

GET/POST/HEAD on any path -> 200 text/plain "NODE\\n"; GET /health -> "ok\\n";
GET /whoami -> {"node", "client", "server"} as this server sees the connection.
Stdlib only; HTTP/1.1 keep-alive; every response carries `X-Backend: NODE`.
"""

from __future__ import annotations

from facade.workloads._httpd import (
    Handler,
    Request,
    Response,
    Server,
    json_response,
    lean_malloc,
    options,
    serve,
    text,
)

MAX_BODY = 16 * 1024 * 1024


def _label(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"


def handler(backend: str) -> Handler:
    """The echo's routes for node `backend`."""
    answer = text(200, f"{backend}\n")
    ok = text(200, "ok\n")

    def handle(req: Request) -> Response:
        if req.method == "POST":
            return answer  # the body is read and dropped by the server
        if req.path == "/health":
            return ok
        if req.path == "/whoami":
            return json_response(200, {"node": backend, "client": _label(req.client),
                                       "server": _label(req.local())})
        return answer

    return handle


def main(argv: list[str] | None = None) -> None:
    args = options(argv, "python -m facade.workloads.http_echo", ("name", "ip", "port"))
    lean_malloc()
    serve(Server(args["ip"], int(args["port"]), handler(args["name"]), args["name"],
                 methods=("GET", "POST", "HEAD"), max_body=MAX_BODY,
                 at_once=frozenset({"/health"})))


if __name__ == "__main__":
    main()
