"""FRR for simulated hosts: the configuration Facade writes for a host's and the route
reflector's zebra + bgpd (BGP EVPN, the overlay's mapping service), and the daemons started,
asked and stopped. Called by simhosts.py; cleanup.py finds the daemons left behind through
`running`.

Every file FRR uses lives in Facade's own directory, one folder per instance: the configuration
(`-f`), the pidfiles (`-i`), the vty sockets (`--vty_socket`), zebra's API socket (`-z`) and the
logs. The daemons are started with `-N NAME` (the host's namespace name: it shows in `ps` whose
they are) in a private mount namespace where /var/tmp and /run are the instance's folders, so
FRR's crash-log buffers (/var/tmp/frr/DAEMON.PID) and its `-N` run folder
(/var/run/frr/NAME) land there too: nothing is left in /etc/frr, /run or /var/tmp of the
machine. They run as root with the group frrvty (FRR requires its user to be in that group,
which the Debian package makes), their TCP vty off (`-P 0`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from facade.dataplane.linux.errors import DataPlaneError
from facade.dataplane.linux.procfs import starttime

FRR_BIN = Path("/usr/lib/frr")
DAEMONS = ("zebra", "bgpd")
ASN = 65000
# BGP keepalive and hold time (seconds): a lost host's routes go within HOLD; FRR's defaults
# (60, 180) would keep a dead host's MACs for three minutes
KEEPALIVE, HOLD = 1, 3
PEER_GROUP = "hosts"
# the launcher shell (in its own mount namespace): the instance's folders over /var/tmp and
# /run, then exec of the daemon
_LAUNCH = 'mount --bind "$1" /var/tmp && mount --bind "$2" /run && shift 2 && exec "$@"'


@dataclass(frozen=True)
class Instance:
    """One FRR instance (a host's or the reflector's): its name (`-N`), its namespace, its
    folder."""

    name: str
    netns: str
    root: Path

    def conf(self, daemon: str) -> Path:
        return self.root / f"{daemon}.conf"

    def pidfile(self, daemon: str) -> Path:
        return self.root / f"{daemon}.pid"

    def log(self, daemon: str) -> Path:
        return self.root / f"{daemon}.log"

    @property
    def zserv(self) -> Path:
        return self.root / "zserv.api"


# ---------------------------------------------------------------------- configuration
def zebra_conf(hostname: str) -> str:
    return f"hostname {hostname}\n"


def host_bgpd_conf(hostname: str, underlay_ip: str, reflector_ip: str) -> str:
    """A host's bgpd: one iBGP session to the route reflector, EVPN only, every local VNI
    (each VXLAN device zebra sees) advertised with its MACs."""
    return "\n".join([
        f"hostname {hostname}",
        f"router bgp {ASN}",
        f" bgp router-id {underlay_ip}",
        " no bgp default ipv4-unicast",
        f" timers bgp {KEEPALIVE} {HOLD}",
        f" neighbor {reflector_ip} remote-as {ASN}",
        f" neighbor {reflector_ip} timers connect 1",
        f" neighbor {reflector_ip} update-source {underlay_ip}",
        " address-family l2vpn evpn",
        f"  neighbor {reflector_ip} activate",
        "  advertise-all-vni",
        " exit-address-family",
        "",
    ])


def reflector_bgpd_conf(hostname: str, ip: str, underlay: str) -> str:
    """The route reflector's bgpd: any host of the underlay may peer (a dynamic neighbour
    range, so adding a host changes nothing here); EVPN routes reflected to every host."""
    return "\n".join([
        f"hostname {hostname}",
        f"router bgp {ASN}",
        f" bgp router-id {ip}",
        " no bgp default ipv4-unicast",
        f" timers bgp {KEEPALIVE} {HOLD}",
        f" neighbor {PEER_GROUP} peer-group",
        f" neighbor {PEER_GROUP} remote-as {ASN}",
        f" bgp listen range {underlay} peer-group {PEER_GROUP}",
        " address-family l2vpn evpn",
        f"  neighbor {PEER_GROUP} activate",
        f"  neighbor {PEER_GROUP} route-reflector-client",
        " exit-address-family",
        "",
    ])


# ---------------------------------------------------------------------- daemons
def write_config(inst: Instance, configs: dict[str, str]) -> None:
    for sub in ("tmp", "run/frr"):
        (inst.root / sub).mkdir(parents=True, exist_ok=True)
    for daemon, text in configs.items():
        inst.conf(daemon).write_text(text)


def argv(inst: Instance, daemon: str) -> list[str]:
    """The daemon's command line, as started inside its namespace and mount namespace."""
    return [str(FRR_BIN / daemon), "-d", "-N", inst.name, "-f", str(inst.conf(daemon)),
            "-i", str(inst.pidfile(daemon)), "--vty_socket", str(inst.root),
            "-z", str(inst.zserv), "-u", "root", "-g", "frrvty", "-P", "0",
            "--log", f"file:{inst.log(daemon)}"]


def start(inst: Instance) -> None:
    """zebra, then bgpd (it connects to zebra's socket). `-d`: each returns once it has read
    its configuration and is serving, or fails with its reason on stderr."""
    for daemon in DAEMONS:
        if not (FRR_BIN / daemon).exists():
            raise DataPlaneError(f"FRR is not installed (no {FRR_BIN / daemon}): `make deps` "
                                 "installs the Debian package frr")
        cmd = ["ip", "netns", "exec", inst.netns, "unshare", "--mount", "--propagation",
               "private", "sh", "-c", _LAUNCH, "frr-launch", str(inst.root / "tmp"),
               str(inst.root / "run"), *argv(inst, daemon)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False,
                             stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise DataPlaneError(f"start {daemon} of {inst.name}: exit {res.returncode}: "
                                 f"{res.stderr.strip()[-500:]}")


def pid_of(inst: Instance, daemon: str) -> int | None:
    """The daemon's pid from its pidfile, if that process still runs this instance."""
    try:
        pid = int(inst.pidfile(daemon).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_instance(pid, inst.name) else None


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def _is_instance(pid: int, name: str | None, prefix: str = "") -> bool:
    args = _cmdline(pid)
    if not args or Path(args[0]).name not in DAEMONS or "-N" not in args:
        return False
    i = args.index("-N")
    label = args[i + 1] if i + 1 < len(args) else ""
    return label == name if name is not None else label.startswith(prefix)


def running(prefix: str) -> list[int]:
    """Every zebra or bgpd whose `-N` name starts with `prefix` (one pass over /proc)."""
    return sorted(int(e) for e in os.listdir("/proc")
                  if e.isdigit() and _is_instance(int(e), None, prefix))


def stop_pids(pids: list[int], grace: float = 3.0) -> list[int]:
    """SIGTERM (bgpd then sends its peers a Cease, so they withdraw its routes at once, and
    zebra takes back what it installed), SIGKILL for any still there after `grace`."""
    marks = {pid: starttime(pid) for pid in pids}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if starttime(p) is not None and starttime(p) == marks[p]]
        if left:
            time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def stop(inst: Instance) -> list[int]:
    """The instance's daemons stopped, bgpd first (so its Cease goes out while zebra is
    still there)."""
    pids = [p for p in (pid_of(inst, d) for d in reversed(DAEMONS)) if p is not None]
    return stop_pids(pids)


def vtysh(inst: Instance, command: str, timeout: float = 10.0) -> str:
    """One show command through the instance's vty sockets (no -N: the sockets are named
    by path)."""
    res = subprocess.run(["vtysh", "--vty_socket", str(inst.root), "-c", command],
                         capture_output=True, text=True, timeout=timeout, check=False,
                         stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise DataPlaneError(f"vtysh {inst.name} {command!r}: exit {res.returncode}: "
                             f"{(res.stderr or res.stdout).strip()[-300:]}")
    return res.stdout


def evpn_established(inst: Instance) -> bool:
    """Whether the instance's EVPN session with the reflector is up (bgpd's own word); False
    while bgpd is still starting."""
    try:
        out = json.loads(vtysh(inst, "show bgp l2vpn evpn summary json") or "{}")
    except (DataPlaneError, ValueError):
        return False
    return any(p.get("state") == "Established" for p in out.get("peers", {}).values())
