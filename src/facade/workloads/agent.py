"""The management agent: one process that serves every node over the provider's management subnet.

    python -m facade.workloads.agent --config FILE

FILE (JSON, written atomically by the control plane, mode 0600):

    {"secret": "<64 hex chars>", "port": 9700,
     "nodes": [{"name": "docs-b1", "netns": "fcd-i3-docs-b1", "mgmt_ip": "10.0.200.3",
                "role": "backend" | "frontend",
                "workload": {"ip": "10.0.1.3", "port": 80, "health_path": "/health" | null,
                             "check": "http" | "tcp" | "listen", "codes": "200-299",
                             "stats": true | false} | null}]}

A workload is checked as its service says (domain/health.py): `http` GETs health_path and
expects one of `codes`, `tcp` connects, `listen` connects to nothing and reads the node's
socket table (/proc/thread-self/net/tcp and tcp6, in the node's namespace) for a socket
listening on the workload's address and port: for servers that serve one client at a time,
which a probe would occupy. Without `check`, health_path decides (http, or else tcp).

For every node the agent listens on mgmt_ip:port INSIDE the node's namespace: the listening socket
is made by a short-lived thread that entered the namespace (the thread ends at once and is never
reused); the main thread serves all of them with one selector and hands each accepted connection
to a thread of its own (one request, `Connection: close`, 8 KiB, 2 s). The agent re-reads FILE
when it changes (polled every 0.3 s) and converges; a node whose namespace or address is missing
is retried on the next poll; a listener whose namespace is deleted or replaced is dropped (so the
agent never keeps a deleted namespace alive) and retried. It prints "agent serving N nodes" after
every convergence that changed something and exits on SIGTERM/SIGINT.

Every request is signed (see `agent_auth`): `Authorization: Facade-HMAC <ts>:<hex>`, bound to the
method, the path with query, and the node's name.

    GET /v1/health    {"node", "role", "netns", "uptime_s", "workload": {"ok", "detail"} | null}
    GET /v1/counters  front-end: {"node", "backends", "conntrack", "counters", "meters", "epoch"};
                      backend: {"node", "counters", "workload": {"requests", "boot"} | null}

Work inside a namespace (workload probes, nftables, conntrack) runs in a fresh thread that entered
the namespace of the node's listening socket, through a file descriptor the agent holds: the
namespace probed is always the one served, even when a namespace of the same name replaced it.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import selectors
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from facade import nsenter
from facade.domain import agent_auth
from facade.domain import health as checks
from facade.domain.errors import Invalid

NETNS_DIR = "/run/netns"
POLL_S = 0.3
CONN_TIMEOUT_S = 2.0
MAX_REQUEST = 8 * 1024
MAX_CONNS_PER_NODE = 32
WORKLOAD_TIMEOUT_S = 0.5
ROLES = ("backend", "frontend")
FE_TABLE = "table ip fcd_fe"
FE_MAP = "backends"
STATS_PATH = "/_facade/stats"  # the built-in workloads' own numbers (workloads._httpd)

T = TypeVar("T")

_nft_lock = threading.Lock()  # one libnftables call at a time: the calls are rare and cheap

REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}


def log(line: str) -> None:
    print(f"agent: {line}", file=sys.stderr, flush=True)


# --- configuration ---------------------------------------------------------------------------


CHECKS = ("http", "tcp", "listen")
TCP_LISTEN = "0A"  # a socket's state in /proc/net/tcp


@dataclass(frozen=True)
class Workload:
    ip: str
    port: int
    health_path: str | None
    check: str = "tcp"
    codes: str = "200-299"
    stats: bool = False  # a built-in workload: it serves STATS_PATH (a program may not)


@dataclass(frozen=True)
class Node:
    name: str
    netns: str
    mgmt_ip: str
    role: str
    workload: Workload | None


@dataclass(frozen=True)
class Config:
    secret: str
    port: int
    nodes: dict[str, Node]


def _port(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ValueError(f"{what} must be an integer 1..65535")
    return value


def _ip(value: object, what: str, host_only: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    addr = ipaddress.ip_address(value)  # ValueError if not an address
    if host_only and (addr.is_unspecified or addr.is_multicast):
        raise ValueError(f"{what} must be one unicast address, not {value}")
    return str(addr)


def _node(raw: object) -> Node:
    if not isinstance(raw, dict):
        raise ValueError("a node must be an object")
    name, ns, role = raw.get("name"), raw.get("netns"), raw.get("role")
    if not isinstance(name, str) or not name:
        raise ValueError("node name must be a non-empty string")
    if not isinstance(ns, str) or not ns or "/" in ns or ns in (".", ".."):
        raise ValueError(f"node {name}: netns must be a namespace name")
    if role not in ROLES:
        raise ValueError(f"node {name}: role must be one of {ROLES}")
    wl_raw = raw.get("workload")
    workload = None
    if wl_raw is not None:
        if not isinstance(wl_raw, dict):
            raise ValueError(f"node {name}: workload must be an object or null")
        hp = wl_raw.get("health_path")
        if hp is not None and (not isinstance(hp, str) or not hp.startswith("/")
                               or any(c in hp for c in " \r\n")):
            raise ValueError(f"node {name}: health_path must be a path or null")
        check = wl_raw.get("check") or ("http" if hp else "tcp")
        if check not in CHECKS or (check == "http" and hp is None):
            raise ValueError(f"node {name}: check must be one of {CHECKS} (http with a "
                             "health_path)")
        codes = wl_raw.get("codes") or "200-299"
        try:
            checks.check({"codes": codes})
        except Invalid as exc:
            raise ValueError(f"node {name}: {exc.message}") from None
        workload = Workload(_ip(wl_raw.get("ip"), f"node {name}: workload ip", True),
                            _port(wl_raw.get("port"), f"node {name}: workload port"), hp,
                            check, codes, wl_raw.get("stats") is True)
    return Node(name, ns, _ip(raw.get("mgmt_ip"), f"node {name}: mgmt_ip", True), str(role),
                workload)


def parse_config(raw: object) -> tuple[Config, list[str]]:
    """The config, and one message per node skipped as invalid. ValueError if the file as a
    whole is unusable (then the agent keeps its current state)."""
    if not isinstance(raw, dict):
        raise ValueError("config must be a JSON object")
    secret = raw.get("secret")
    if not isinstance(secret, str) or len(secret) != 64:
        raise ValueError("secret must be 64 hex characters")
    bytes.fromhex(secret)  # ValueError if not hex
    port = _port(raw.get("port"), "port")
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list):
        raise ValueError("nodes must be a list")
    nodes: dict[str, Node] = {}
    skipped: list[str] = []
    for item in nodes_raw:
        try:
            node = _node(item)
        except ValueError as exc:
            skipped.append(f"node skipped: {exc}")
            continue
        if node.name in nodes:
            skipped.append(f"node skipped: duplicate name {node.name}")
            continue
        nodes[node.name] = node
    return Config(secret.lower(), port, nodes), skipped


# --- namespaces ------------------------------------------------------------------------------


def _in_namespace(ns_fd: int, fn: Callable[[], T]) -> T:
    return nsenter.in_namespace(ns_fd, fn, "agent-netns")


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


class Listener:
    """A node's listening socket, made inside its namespace, and an fd of that namespace."""

    def __init__(self, node: Node, port: int, sock: socket.socket, ns_fd: int) -> None:
        self.node = node
        self.port = port
        self.sock = sock
        self.ns_fd = ns_fd
        st = os.fstat(ns_fd)
        self.ns_id = (st.st_dev, st.st_ino)
        self.started = time.monotonic()
        self.active = 0
        self.lock = threading.Lock()

    @classmethod
    def open(cls, node: Node, port: int) -> Listener:
        path = os.path.join(NETNS_DIR, node.netns)

        def inside() -> tuple[socket.socket, int]:
            ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                nsenter.setns(ns_fd)
                sock = socket.socket(_family(node.mgmt_ip), socket.SOCK_STREAM)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((node.mgmt_ip, port))
                    sock.listen(64)
                    sock.setblocking(False)
                except BaseException:
                    sock.close()
                    raise
                return sock, ns_fd
            except BaseException:
                os.close(ns_fd)
                raise

        sock, ns_fd = nsenter.in_new_thread(inside, "agent-listen")
        return cls(node, port, sock, ns_fd)

    def namespace_current(self) -> bool:
        """True while /run/netns/NAME still names the namespace this listener lives in."""
        try:
            st = os.stat(os.path.join(NETNS_DIR, self.node.netns))
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.ns_id

    def close(self) -> None:
        self.sock.close()
        os.close(self.ns_fd)

    def release(self) -> None:
        with self.lock:
            self.active -= 1


# --- HTTP ------------------------------------------------------------------------------------


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]


def _recv(conn: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise HttpError(408, "request timed out")
    conn.settimeout(remaining)
    try:
        return conn.recv(4096)
    except TimeoutError:
        raise HttpError(408, "request timed out") from None


def read_request(conn: socket.socket, deadline: float) -> Request | None:
    """One request (head and any Content-Length body, 8 KiB in all); None if the client left."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_REQUEST:
            raise HttpError(431, f"request larger than {MAX_REQUEST} bytes")
        chunk = _recv(conn, deadline)
        if not chunk:
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    if len(head) > MAX_REQUEST:
        raise HttpError(431, f"request larger than {MAX_REQUEST} bytes")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header")
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise HttpError(411, "chunked bodies are not supported; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
        if length < 0:
            raise ValueError
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    if len(head) + 4 + length > MAX_REQUEST:
        raise HttpError(413, f"request larger than {MAX_REQUEST} bytes")
    while len(body) < length:  # read (and ignore) the body so closing does not reset the reply
        chunk = _recv(conn, deadline)
        if not chunk:
            return None
        body += chunk
    return Request(parts[0], parts[1], headers)


def respond(conn: socket.socket, status: int, obj: object,
            extra: dict[str, str] | None = None) -> None:
    body = (json.dumps(obj) + "\n").encode()
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Cache-Control: no-store", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


# --- routes ----------------------------------------------------------------------------------


def _error_detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return f"{type(exc).__name__}: {exc}"[:200]


def _http_get(ns_fd: int, ip: str, port: int, path: str,
              limit: int = 1024) -> tuple[int, bytes]:
    """GET ip:port/path from inside the namespace (WORKLOAD_TIMEOUT_S in all): (status, head of
    the body, at most `limit` bytes). Raises OSError/TimeoutError/ValueError."""
    deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
    sock = _in_namespace(ns_fd, lambda: socket.socket(_family(ip), socket.SOCK_STREAM))
    try:
        sock.settimeout(WORKLOAD_TIMEOUT_S)
        sock.connect((ip, port))
        host = f"[{ip}]" if ":" in ip else ip
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "User-Agent: facade-agent\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        while len(buf) < limit + 1024:
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep and _content_length(head) is not None and \
                    len(body) >= min(limit, _content_length(head) or 0):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        parts = buf.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ValueError("not an HTTP response")
        return int(parts[1]), buf.partition(b"\r\n\r\n")[2][:limit]
    finally:
        sock.close()


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def _proc_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp{,6} prints it: 32-bit words in the host's byte order."""
    raw = b"".join(int(text[i:i + 8], 16).to_bytes(4, sys.byteorder)
                   for i in range(0, len(text), 8))
    return ipaddress.ip_address(raw)


def listening(ip: str, port: int) -> bool:
    """Whether a socket of the calling thread's network namespace listens on ip:port (or on
    the wildcard address of its family, or IPv6's for IPv4)."""
    want = ipaddress.ip_address(ip)
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/thread-self/net/{table}", encoding="ascii") as f:
                lines = f.read(1 << 20).splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_LISTEN:
                continue
            addr_text, _, port_text = fields[1].partition(":")
            if int(port_text, 16) != port:
                continue
            addr = _proc_address(addr_text)
            mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
            if addr == want or mapped == want or addr.is_unspecified:
                return True
    return False


def check_workload(ns_fd: int, wl: Workload) -> dict[str, Any]:
    """Probe the workload from inside the node's namespace (0.5 s in all); never raises."""
    if wl.check == "listen":
        try:
            up = _in_namespace(ns_fd, lambda: listening(wl.ip, wl.port))
        except Exception as exc:
            return {"ok": False, "detail": f"namespace: {_error_detail(exc)}"}
        where = f"{wl.ip}:{wl.port}"
        return {"ok": up, "detail": f"listening on {where}" if up
                else f"nothing listens on {where}"}
    if wl.check == "tcp" or wl.health_path is None:
        try:
            sock = _in_namespace(ns_fd, lambda: socket.socket(_family(wl.ip), socket.SOCK_STREAM))
        except Exception as exc:
            return {"ok": False, "detail": f"namespace: {_error_detail(exc)}"}
        try:
            sock.settimeout(WORKLOAD_TIMEOUT_S)
            sock.connect((wl.ip, wl.port))
            return {"ok": True, "detail": "connected"}
        except Exception as exc:
            return {"ok": False, "detail": _error_detail(exc)}
        finally:
            sock.close()
    try:
        code, _ = _http_get(ns_fd, wl.ip, wl.port, wl.health_path, limit=0)
    except ValueError as exc:
        return {"ok": False, "detail": str(exc)}
    except Exception as exc:
        return {"ok": False, "detail": _error_detail(exc)}
    return {"ok": checks.HealthCheck(codes=wl.codes).accepts(code), "detail": f"HTTP {code}"}


def workload_stats(ns_fd: int, wl: Workload) -> dict[str, Any] | None:
    """The built-in workload's own numbers ({"requests", "boot"}), or None if it has none."""
    try:
        code, body = _http_get(ns_fd, wl.ip, wl.port, STATS_PATH)
        if code != 200:
            return None
        stats = json.loads(body)
    except Exception:
        return None
    if (not isinstance(stats, dict) or not isinstance(stats.get("boot"), str)
            or not isinstance(stats.get("requests"), int) or stats["requests"] < 0):
        return None
    return {"requests": stats["requests"], "boot": stats["boot"][:64]}


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))
    except OSError:
        return None


def _map_values(elems: object) -> list[str]:
    out: list[str] = []
    if not isinstance(elems, list):
        return out
    for elem in elems:
        value: object = elem[1] if isinstance(elem, list) and len(elem) == 2 else None
        if isinstance(value, dict) and "elem" in value:  # {"elem": {"val": ..., "counter": ...}}
            value = value["elem"].get("val") if isinstance(value["elem"], dict) else None
        if isinstance(value, str):
            out.append(value)
    return out


def frontend_state(ns_fd: int) -> tuple[list[dict[str, Any]], int | None]:
    """(the objects of `list table ip fcd_fe`, [] if there is no such table; conntrack entries)."""
    from facade.dataplane.linux.nft import Nft, NftError  # only front-ends need libnftables

    def inside() -> tuple[list[dict[str, Any]], int | None]:
        # /proc/net is the MAIN thread's namespace; /proc/thread-self/net is this thread's.
        conntrack = _count_lines("/proc/thread-self/net/nf_conntrack")
        try:
            with _nft_lock, Nft() as nft:
                objs = nft.list(FE_TABLE)
        except NftError as exc:
            if "No such file or directory" not in str(exc):
                raise
            objs = []
        return objs, conntrack

    return _in_namespace(ns_fd, inside)


def counters(node: Node, ns_fd: int) -> dict[str, Any]:
    """A front-end's rotation, conntrack count and per-backend meters (with their epoch: the
    namespace's inode and the table's handle); a backend's workload numbers."""
    if node.role != "frontend":
        wl = node.workload
        # only a built-in workload is asked: to a program, the request would be a client
        stats = workload_stats(ns_fd, wl) if wl is not None and wl.stats else None
        return {"node": node.name, "counters": {}, "workload": stats}
    objs, conntrack = frontend_state(ns_fd)
    backends: set[str] = set()
    named: dict[str, dict[str, int]] = {}
    for obj in objs:
        if "map" in obj and obj["map"].get("name") == FE_MAP:
            backends.update(_map_values(obj["map"].get("elem")))
        elif "counter" in obj:
            c = obj["counter"]
            named[str(c.get("name"))] = {"packets": int(c.get("packets", 0)),
                                         "bytes": int(c.get("bytes", 0))}
    ordered = sorted(backends, key=lambda ip: (":" in ip, ipaddress.ip_address(ip)))
    from facade.dataplane.linux import nft_rules  # pure; imported with libnftables above

    handle = nft_rules.table_handle(objs)
    return {"node": node.name, "backends": ordered, "conntrack": conntrack, "counters": named,
            "meters": nft_rules.meters(objs),
            "epoch": f"{os.fstat(ns_fd).st_ino}:{handle}" if handle is not None else None}


def health(node: Node, ns_fd: int, started: float) -> dict[str, Any]:
    return {
        "node": node.name, "role": node.role, "netns": node.netns,
        "uptime_s": round(time.monotonic() - started, 3),
        "workload": check_workload(ns_fd, node.workload) if node.workload else None,
    }


def route(req: Request, node: Node, secret: str, ns_fd: int,
          started: float) -> tuple[int, object, dict[str, str]]:
    auth = req.headers.get("authorization")
    if not auth:
        return 401, {"error": "missing Authorization header"}, {"WWW-Authenticate": "Facade-HMAC"}
    if not agent_auth.verify(secret, auth, req.method, req.target, node.name):
        return 401, {"error": "invalid or expired signature"}, {"WWW-Authenticate": "Facade-HMAC"}
    path = req.target.split("?", 1)[0]
    if path not in ("/v1/health", "/v1/counters"):
        return 404, {"error": f"no route {path}"}, {}
    if req.method != "GET":
        return 405, {"error": f"method {req.method} not allowed"}, {"Allow": "GET"}
    if path == "/v1/health":
        return 200, health(node, ns_fd, started), {}
    return 200, counters(node, ns_fd), {}


def serve_connection(conn: socket.socket, listener: Listener, node: Node, secret: str,
                     ns_fd: int) -> None:
    """One connection, one request, at most CONN_TIMEOUT_S of the client's time; never raises."""
    deadline = time.monotonic() + CONN_TIMEOUT_S
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            req = read_request(conn, deadline)
            if req is None:
                return
            status, obj, extra = route(req, node, secret, ns_fd, listener.started)
        except HttpError as exc:
            status, obj, extra = exc.status, {"error": str(exc)}, {}
        except OSError:
            return
        except Exception as exc:
            log(f"node {node.name}: error: {type(exc).__name__}: {exc}")
            status, obj, extra = 500, {"error": "internal error"}, {}
        conn.settimeout(max(0.2, deadline - time.monotonic()))
        respond(conn, status, obj, extra)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()
        os.close(ns_fd)
        listener.release()


# --- the agent -------------------------------------------------------------------------------


class Agent:
    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self.config: Config | None = None
        self.stamp: tuple[int, int, int] | None = None
        self.listeners: dict[str, Listener] = {}
        self.failures: dict[str, str] = {}  # node -> last failure logged (log each once)
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)

    # config

    def _reload(self) -> bool:
        """Re-read the config if the file changed; True if the desired state changed."""
        try:
            st = os.stat(self.config_path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_ino, st.st_size)
        except OSError:
            stamp = None
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        if stamp is None:
            log(f"config {self.config_path}: not found; keeping current state")
            return False
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log(f"config {self.config_path}: readable by others (mode {st.st_mode & 0o777:o})")
        try:
            with open(self.config_path, "rb") as fh:
                config, skipped = parse_config(json.loads(fh.read()))
        except (OSError, ValueError) as exc:
            log(f"config {self.config_path}: {exc}; keeping current state")
            return False
        for line in skipped:
            log(line)
        changed = config != self.config
        self.config = config
        return changed

    def _fail(self, node: Node, message: str) -> None:
        if self.failures.get(node.name) != message:
            self.failures[node.name] = message
            log(f"node {node.name}: {message}; retrying")

    def _drop(self, name: str, why: str) -> None:
        listener = self.listeners.pop(name)
        self.sel.unregister(listener.sock)
        listener.close()
        log(f"node {name}: stopped listening on {listener.node.mgmt_ip}:{listener.port} ({why})")

    def converge(self) -> bool:
        """Bring the listeners to the config; True if anything changed."""
        changed = self._reload()
        config = self.config
        desired = config.nodes if config else {}
        port = config.port if config else 0
        for name, listener in list(self.listeners.items()):
            want = desired.get(name)
            if want is None:
                self._drop(name, "removed")
            elif (want.netns, want.mgmt_ip, port) != (listener.node.netns, listener.node.mgmt_ip,
                                                      listener.port):
                self._drop(name, "moved")
            elif not listener.namespace_current():
                self._drop(name, f"namespace {want.netns} is gone")
            else:
                listener.node = want
                continue
            changed = True
        for name in list(self.failures):
            if name not in desired:
                del self.failures[name]
        for name, node in desired.items():
            if name in self.listeners:
                continue
            if not os.path.exists(os.path.join(NETNS_DIR, node.netns)):
                self._fail(node, f"namespace {node.netns} does not exist")
                continue
            try:
                listener = Listener.open(node, port)
            except OSError as exc:
                self._fail(node, f"cannot listen on {node.mgmt_ip}:{port} in {node.netns}: "
                                 f"{_error_detail(exc)}")
                continue
            self.failures.pop(name, None)
            self.listeners[name] = listener
            self.sel.register(listener.sock, selectors.EVENT_READ, listener)
            log(f"node {name}: listening on {node.mgmt_ip}:{port} in {node.netns}")
            changed = True
        return changed

    # serving

    def _accept(self, listener: Listener) -> None:
        assert self.config is not None
        for _ in range(64):
            try:
                conn, _addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log(f"node {listener.node.name}: accept: {exc}")
                return
            with listener.lock:
                full = listener.active >= MAX_CONNS_PER_NODE
                if not full:
                    listener.active += 1
            if full:
                conn.close()
                continue
            try:
                ns_fd = os.dup(listener.ns_fd)  # the connection's own: the listener may close first
            except OSError:
                listener.release()
                conn.close()
                continue
            conn.setblocking(True)
            try:
                threading.Thread(
                    target=serve_connection, name=f"agent-conn-{listener.node.name}", daemon=True,
                    args=(conn, listener, listener.node, self.config.secret, ns_fd)).start()
            except RuntimeError:  # cannot start a thread: shed this connection, keep serving
                os.close(ns_fd)
                listener.release()
                conn.close()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        try:
            first = True
            next_poll = 0.0
            while not self.stopping:
                now = time.monotonic()
                if now >= next_poll:
                    if self.converge() or first:
                        print(f"agent serving {len(self.listeners)} nodes", flush=True)
                    first = False
                    next_poll = time.monotonic() + POLL_S
                for key, _events in self.sel.select(max(0.0, next_poll - time.monotonic())):
                    if key.data is None:
                        try:
                            self.wake_r.recv(4096)
                        except OSError:
                            pass
                    elif not self.stopping:
                        self._accept(key.data)
        finally:
            signal.set_wakeup_fd(-1)
            for name in list(self.listeners):
                listener = self.listeners.pop(name)
                listener.close()
            self.sel.close()
            self.wake_r.close()
            self.wake_w.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m facade.workloads.agent")
    parser.add_argument("--config", required=True, help="JSON config written by the control plane")
    args = parser.parse_args(argv)
    Agent(args.config).run()
    log("stopped")


if __name__ == "__main__":
    main()
