"""One probe at a time, from inside a namespace: a TCP connection (`tcp_probe`) and an HTTP
request (`http_request`, the control plane's signed requests to management agents and the
readiness check), on a socket made in the namespace. The health engine's batches are
prober.py's. Called by the driver (driver.py).
"""

from __future__ import annotations

import http.client
import socket

from facade import bounded_http
from facade.dataplane.linux import netns as ns
from facade.dataplane.linux.prober import net_error
from facade.domain.specs import ProbeResult


def connect(netns: str, ip: str, port: int, timeout: float
            ) -> tuple[socket.socket | None, ProbeResult | None]:
    """A TCP connection from inside `netns`, or the ProbeResult that says why there is none."""
    try:
        sock = ns.socket_in(netns, socket.AF_INET, socket.SOCK_STREAM)
    except (ns.NamespaceMissing, FileNotFoundError):
        return None, ProbeResult(ok=False, detail=f"no namespace {netns}")
    except OSError as exc:
        return None, ProbeResult(ok=False, detail=f"socket: {exc.strerror or exc}")
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
    except TimeoutError:
        sock.close()
        return None, ProbeResult(ok=False, detail="timed out")
    except OSError as exc:
        sock.close()
        return None, ProbeResult(ok=False, detail=_net_error(exc))
    return sock, None


def tcp_probe(netns: str, ip: str, port: int, *, timeout: float = 1.0) -> ProbeResult:
    sock, failed = connect(netns, ip, port, timeout)
    if sock is None:
        assert failed is not None
        return failed
    sock.close()
    return ProbeResult(ok=True, detail="connected")


def http_request(netns: str, ip: str, port: int, path: str = "/", *,
                 method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None,
                 timeout: float = 2.0) -> ProbeResult:
    sock, failed = connect(netns, ip, port, timeout)
    if sock is None:
        assert failed is not None
        return failed
    with sock:
        return http_exchange(sock, ip, port, path, method, body, headers or {})


def _net_error(exc: OSError) -> str:
    return net_error(exc.errno or 0, exc.strerror or str(exc))


def http_exchange(sock: socket.socket, ip: str, port: int, path: str, method: str,
                   body: bytes | None, headers: dict[str, str]) -> ProbeResult:
    """One request on a connected socket and its answer, on http.client with caps
    (`facade.bounded_http`: head 64 KiB, body 1 MiB); every failure is a ProbeResult."""
    fields = [("Host", f"{ip}:{port}"), ("Connection", "close"), ("User-Agent", "facade-probe")]
    for name, value in headers.items():
        if "\r" in name + value or "\n" in name + value:
            return ProbeResult(ok=False, detail=f"bad header {name!r}")
        fields.append((name, value))
    status: int | None = None
    answer_headers: dict[str, str] = {}
    try:
        answer = bounded_http.exchange(sock, ip, port, method, path, fields, body)
        status = answer.status
        answer_headers = {k.lower(): v.strip() for k, v in answer.getheaders()}
        data = bounded_http.read_body(answer)
    except ValueError as exc:  # before sending: a method, path or field http.client refuses
        return ProbeResult(ok=False, detail=f"cannot send the request: {exc}")
    except bounded_http.TooLarge as exc:
        return ProbeResult(ok=False, detail=f"{exc}" if status is None
                           else f"HTTP {status}, {exc}", status=status, headers=answer_headers)
    except http.client.RemoteDisconnected:
        return ProbeResult(ok=False, detail="empty response")
    except http.client.BadStatusLine as exc:
        line = str(exc.args[0] if exc.args else "").rstrip("\r\n")
        return ProbeResult(ok=False, detail=f"bad status line {line!r}"
                           if line.startswith("HTTP/") else "bad HTTP response")
    except http.client.HTTPException as exc:
        return ProbeResult(ok=False, detail=f"bad HTTP response: {exc}")
    except TimeoutError:
        return ProbeResult(ok=False, detail="timed out")
    except OSError as exc:
        return ProbeResult(ok=False, detail=_net_error(exc))
    return ProbeResult(ok=200 <= status < 300, detail=f"HTTP {status}", status=status,
                       body=data.decode(errors="replace"), headers=answer_headers)
