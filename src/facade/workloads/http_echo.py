"""HTTP echo workload: answers with its backend node name, so tests can see who served them.

    python -m facade.workloads.http_echo --name NODE --ip IP --port PORT

GET/POST/HEAD on any path -> 200 text/plain "NODE\\n"; GET /health -> "ok\\n";
GET /whoami -> {"node", "client", "server"} as this server sees the connection.
Stdlib only; HTTP/1.1 keep-alive; every response carries `X-Backend: NODE`.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from facade.workloads._httpd import Handler, Server, serve

MAX_BODY = 16 * 1024 * 1024


def _label(address: tuple[object, ...]) -> str:
    return f"{address[0]}:{address[1]}"


class EchoHandler(Handler):
    def do_GET(self) -> None:
        self.guarded(lambda: self._answer(head=False))

    def do_HEAD(self) -> None:
        self.guarded(lambda: self._answer(head=True))

    def do_POST(self) -> None:
        self.guarded(self._post)

    def _post(self) -> None:
        if self.read_body(MAX_BODY) is not None:
            self.send_text(200, f"{self.server.backend}\n")

    def _answer(self, head: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self.send_text(200, "ok\n", head)
        elif path == "/whoami":
            who = {
                "node": self.server.backend,
                "client": _label(self.client_address),
                "server": _label(self.connection.getsockname()),
            }
            self.send_json(200, who, head)
        else:
            self.send_text(200, f"{self.server.backend}\n", head)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.workloads.http_echo")
    parser.add_argument("--name", required=True, help="backend node name (X-Backend, body)")
    parser.add_argument("--ip", required=True, help="address to bind exactly")
    parser.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    serve(Server(args.ip, args.port, EchoHandler, args.name))


if __name__ == "__main__":
    main()
