"""The HTTP/1.1 server of the built-in workloads (http_echo, search, web), and their run loop.

Small on purpose: a backend node's workload should cost a few megabytes of private memory, and
http.server alone costs about six (it imports email, html, mimetypes, socketserver, urllib).
This package imports socket, select, threading, json, os, signal, sys and time (and ctypes,
in lean_malloc); docs/workloads.md has the measurements.

How it serves. The thread that calls `serve()` runs an epoll loop (server): it accepts
connections, reads request heads without blocking, and closes a connection that stays idle or
takes too long to send a complete head (a slow client holds no thread). A complete head goes
to a pool of worker threads (pool: started on demand, at most `max_workers`, each ending after
10 s without work; health checks, stats and internal requests go first and may use a few more);
a worker reads the body, runs the workload's handler and writes the answer (exchange), then
hands a keep-alive connection back to the loop. A handler may block (web and search call other
nodes, a web may even call itself) without holding up other clients. A lone GET of one of the
workload's `at_once` paths (its health check, when answering it never blocks) and of the stats
is answered by the loop itself, in one non-blocking write: a health check every second then
costs the workload about 80 us of CPU instead of 165 (no thread switch, no hand-back;
bench/health_check_cost.py).

Its modules by role: limits (sizes, timeouts, the control plane's paths), request (a connection,
a request and its body), answers (Response, and an answer on the wire: its head, a refusal),
exchange (the workload's handler, its request count, a worker's requests on one connection),
pool (the worker threads), server (the socket, the loop, `serve`), process (a workload's
options, its allocator, its log line).

Every answer carries `X-Backend: NODE` and a Content-Length, and the connection stays open
unless the client asked otherwise (HTTP/1.1 keep-alive; HTTP/1.0 only with `Connection:
keep-alive`). The server counts the requests it served, except health checks, the workload's
`internal_paths` and `GET /_facade/stats` itself (exchange).
"""

from facade.workloads._httpd.answers import Response, json_response, text
from facade.workloads._httpd.exchange import Handler
from facade.workloads._httpd.process import lean_malloc, log, options
from facade.workloads._httpd.request import Request
from facade.workloads._httpd.server import Server, serve

__all__ = ["Handler", "Request", "Response", "Server", "json_response", "lean_malloc", "log",
           "options", "serve", "text"]
