"""Test-side helpers that look at the system independently of Facade's own code: sockets made
inside a namespace by a thread of our own (libc setns), `ip`/`nft` dumps, process scans."""

from __future__ import annotations

import ctypes
import errno
import http.client
import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def ns_socket(netns: str) -> socket.socket:
    """A TCP socket living in `netns` (made by a throwaway thread that entered it)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            box["sock"] = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["sock"]


class NsHTTPConnection(http.client.HTTPConnection):
    """http.client over a socket made inside a namespace; keep-alive capable."""

    def __init__(self, netns: str, host: str, port: int, timeout: float = 3.0) -> None:
        super().__init__(host, port, timeout=timeout)
        self.netns = netns

    def connect(self) -> None:
        sock = ns_socket(self.netns)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def http(netns: str, ip: str, port: int, method: str = "GET", path: str = "/",
         body: Any = None, timeout: float = 3.0) -> tuple[int, dict[str, str], bytes]:
    conn = NsHTTPConnection(netns, ip, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def can_connect(netns: str, ip: str, port: int, timeout: float = 0.7) -> bool:
    sock = ns_socket(netns)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def connect_outcome(netns: str, ip: str, port: int, timeout: float) -> str:
    """connected | refused | timeout | unreachable | errno name: one real TCP connect."""
    sock = ns_socket(netns)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
        return "connected"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "unreachable"
        return errno.errorcode.get(exc.errno or 0, str(exc))
    finally:
        sock.close()


def run(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30).stdout


def netns_list() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def facade_netns() -> set[str]:
    return {n for n in netns_list() if n.startswith("fcd-")}


def addresses(netns: str) -> dict[str, list[str]]:
    """ifname -> ["ip/prefix", ...] from `ip -j addr` inside the namespace."""
    out = json.loads(run("ip", "-n", netns, "-j", "addr", "show"))
    return {link["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                             if a.get("family") == "inet"]
            for link in out if link["ifname"] != "lo"}


def nft_ruleset(netns: str) -> dict[str, Any]:
    return json.loads(run("ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset"))


SANDBOX_WRAPPERS = ("bwrap", "nsenter")  # their command lines carry the program's


def processes_mentioning(text: str, *, wrappers: bool = False) -> list[int]:
    """Processes whose command line holds `text`: the programs themselves, not the sandbox's
    bwrap monitor that started one (unless `wrappers`)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        argv0 = os.path.basename(raw.split(b"\0", 1)[0].decode(errors="replace"))
        cmd = raw.replace(b"\0", b" ").decode(errors="replace")
        if text in cmd and "pytest" not in cmd and (wrappers or argv0 not in SANDBOX_WRAPPERS):
            pids.append(int(pid))
    return pids


def root_links() -> set[str]:
    return {link["ifname"] for link in json.loads(run("ip", "-j", "link", "show"))}


def sandbox_leftovers(home: Path) -> list[str]:
    """What a control plane's sandboxes could leave on the host: its nodes' control groups,
    bridge mounts (and the launch namespace's pin) under /run/facade and the plane's folder
    there, sandbox processes (bwrap monitors, node inits)."""
    from facade.dataplane.linux import cgroups
    from facade.dataplane.linux.sandbox import plane_of
    from facade.dataplane.linux.sandbox_bridge import BRIDGE_ROOT

    plane = plane_of(home)
    left = [f"cgroup {m}/{cgroups.TOP}/{plane}"
            for m, _ in cgroups.Hierarchies.discover().mounts()
            if (m / cgroups.TOP / plane).exists()]
    left += [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text()
             .splitlines() if line.split()[4].startswith(str(BRIDGE_ROOT / plane))]
    left += [f"folder {BRIDGE_ROOT / plane}"] if (BRIDGE_ROOT / plane).exists() else []
    left += [f"process {pid}" for pid in processes_mentioning("catatonit", wrappers=True)]
    left += [f"process {pid}" for pid in processes_mentioning(str(home), wrappers=True)]
    return left


class Greeter:
    """A TCP server in a namespace: each connection gets "NAME PEER-IP\n" (its name and the
    address it saw the client come from: both sides of a NAT read at once), then an echo of
    what it sends until it closes (a connection can be held open, across a remap say)."""

    def __init__(self, netns: str, name: str, port: int) -> None:
        self.name = name
        self.sock = ns_socket(netns)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, (peer, _) = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        with conn:
            conn.settimeout(10)
            try:
                conn.sendall(f"{self.name} {peer}\n".encode())
                for _ in range(100):
                    data = conn.recv(1024)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def greeting(netns: str, ip: str, port: int, timeout: float) -> tuple[str, str] | str:
    """What a Greeter at `ip` says over a new connection from `netns`: (name, the client
    address it saw); "reset" when a host refused the connection, "none" when nothing came."""
    s = ns_socket(netns)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        name, peer = s.recv(200).decode().split()
        return name, peer
    except ConnectionRefusedError:
        return "reset"
    except OSError:
        return "none"
    finally:
        s.close()
