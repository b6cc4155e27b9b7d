"""Host loss (issue 13's targets): a simulated host holding an appliance's front-end and one
of its backends is cut off; how long until the appliance is full again (target <= 15 s), until
the endpoint answers again (<= 10 s), and how many requests fail after that (0).

A real control plane (root, in a sandbox of its own: /work/shared/tools/sandbox or
tests/integration/sandbox) with two simulated hosts; each round creates an appliance of three
backends (one on each of local, h1 and h2; its front-end on h1 or h2: service/
hosts_placement.py), starts a client looping HTTP requests through the endpoint from an
instance of the customer's subnet (1 s timeout, 20 ms apart), cuts the front-end's host off
the substrate (its port down: no Cease, no FIN, as a machine switched off), and times from
the cut:
 - lost: the host `lost` (the control plane's verdict: hosts.LOST_AFTER, 5 s);
 - answering: the first request answered after the first that failed;
 - full: the appliance `ready` with its three backends and its front-end off the cut host;
 - failed after: requests sent after `answering` that failed.
Then the link is brought back, the host swept and ready again, and the appliance deleted.

    /work/shared/tools/sandbox .venv/bin/python bench/hosts_loss.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from dataclasses import dataclass, field

from common import ECHO_LAYOUT as LAYOUT
from common import ControlPlane, control_plane_with
from tests.integration import nsclient

from facade.domain import names

HOSTS = ("h1", "h2")


@dataclass
class Client:
    """Requests through the endpoint, one at a time: when each was sent and whether it was
    answered."""

    netns: str
    ip: str
    sent: list[tuple[float, bool]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.done.is_set():
            at = time.monotonic()
            try:
                ok = nsclient.http(self.netns, self.ip, 80, timeout=1.0)[0] == 200
            except OSError:
                ok = False
            self.sent.append((at, ok))
            time.sleep(0.02)


def _wait(check: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise TimeoutError(what)
        time.sleep(0.02)
    return time.monotonic()


def _round(cp: ControlPlane, client_netns: str, n: int) -> dict[str, float]:
    name = f"loss{n}"
    assert cp.api("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "echo", "subnet": "acme-vpc/app",
        "backends": 3}).status_code == 202
    path = f"/v1/appliances/{name}"
    _wait(lambda: cp.get(path)["status"] == "ready", 30, f"{name} ready")
    app = cp.get(path)
    host = app["frontend"]["host"]
    assert host in HOSTS, app["frontend"]
    client = Client(client_netns, app["endpoint"]["ip"])
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    time.sleep(0.5)
    port = names.host_port(host)
    cut = time.monotonic()
    nsclient.run("ip", "-n", "fcd-substrate", "link", "set", port, "down")
    try:
        lost = _wait(lambda: cp.get(f"/v1/hosts/{host}")["state"] == "lost", 20, "lost")

        def full() -> bool:
            a = cp.get(path)
            return bool(a["status"] == "ready" and len(a["backends"]) == 3
                        and host not in {b["host"] for b in a["backends"]}
                        and a["frontend"]["host"] != host)

        whole = _wait(full, 30, "full again")
        time.sleep(2.0)  # requests once it is full again
    finally:
        client.done.set()
        thread.join(10)
        nsclient.run("ip", "-n", "fcd-substrate", "link", "set", port, "up")
    first_fail = min((t for t, ok in client.sent if t >= cut and not ok), default=cut)
    back = min((t for t, ok in client.sent if t > first_fail and ok), default=float("nan"))
    after = sum(1 for t, ok in client.sent if t > back and not ok)
    _wait(lambda: cp.get(f"/v1/hosts/{host}")["state"] == "ready", 30, "ready again")
    assert cp.api("DELETE", path).status_code in (202, 204)
    _wait(lambda: cp.api("GET", path).status_code == 404, 30, f"{name} deleted")
    return {"lost": lost - cut, "answering": back - cut, "full": whole - cut,
            "failed": float(sum(1 for t, ok in client.sent if not ok)),
            "failed after": float(after)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="hosts cut, one after the other")
    args = ap.parse_args()
    with control_plane_with(LAYOUT) as cp:
        for host in HOSTS:
            cp.cli("host", "add", host, "--simulated")
        client = cp.get("/v1/instances/client?account=acme")["netns"]
        rounds = [_round(cp, client, n) for n in range(args.rounds)]
    print(f"host loss: the front-end's host cut, {args.rounds} rounds (targets: answering "
          "<= 10 s, full <= 15 s, 0 failed after)\n")
    print("| from the cut | median | min | max |")
    print("|---|---|---|---|")
    for key in ("lost", "answering", "full"):
        got = [r[key] for r in rounds]
        print(f"| {key} | {statistics.median(got):.2f} s | {min(got):.2f} s | "
              f"{max(got):.2f} s |")
    print(f"\nrequests failed, each round: {[int(r['failed']) for r in rounds]}; failed "
          f"after the endpoint answered again: {[int(r['failed after']) for r in rounds]}")


if __name__ == "__main__":
    main()
