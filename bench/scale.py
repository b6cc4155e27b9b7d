"""Benchmark: what one more appliance costs as the world grows (issue 11's targets).

One real control plane (as root, the product's default 60 s resync) with one customer subnet
and one http-echo service. Appliances are created through the API in batches, each batch
waited until every new one is `ready`, up to each count in --counts. At each count:

- create->ready of --sample new appliances, one after the other (median), and deleting one;
- the control plane's CPU while idle for --idle seconds (share of one core, from
  /proc/PID/stat), the management agents' and the workloads' CPU, the control plane's RSS;
- GET /v1/appliances?limit=100 and GET /v1/appliances/NAME (median of 20, in-process client);
- detection: an appliance of 2 backends made for it, one backend's workload hung (SIGSTOP),
  then killed (SIGKILL): each time until its address left the front-end's map (nft, not Facade);

and throughout: a client loop (curl every 0.2 s from a customer instance to the first
appliance's endpoint, 2 s timeout each) whose failures are counted, and every
`appliance.degraded` event of an appliance that had been `ready` (a false degradation: nothing
was broken on purpose). At the end every appliance is deleted at once, by 16 clients side by side
(time until none is listed, and what is left in the kernel). With --profile, py-spy (if installed) samples the control
plane for --idle seconds at the largest count and the top functions are printed; with
--profile-create N, it samples the control plane while N more appliances are created one after
the other at the largest count; with --profile-delete, while every appliance is deleted. The
controller's own account of its CPU by activity (its FACADE_REPORT log lines, every 5 s here)
is printed for the idle periods, the timed creations and the delete of all, with how long the
changes' keys waited for a worker, and the events of the median creation at each count as a
timeline, followed by every key and action the controller handled meanwhile (FACADE_TRACE).

    sudo .venv/bin/python bench/scale.py [--counts 10,100,500] [--backends 1] [--batch 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# the product's defaults, not the tests' (a 2 s resync at any rate)
os.environ.setdefault("FACADE_RESYNC", "60")
os.environ.setdefault("FACADE_RESYNC_RATE", "5")
os.environ.setdefault("FACADE_REPORT", "5")  # the controller's CPU by activity, every 5 s
os.environ.setdefault("FACADE_TRACE", "1")  # every key and action, timed (the median's trace)

from common import ECHO_LAYOUT as LAYOUT
from common import ControlPlane, control_plane_with
from failover import rotation, until, workload_pid

CLK = os.sysconf("SC_CLK_TCK")
DELETERS = 16  # clients deleting side by side at the end


def _ready_all(cp: ControlPlane, names: list[str], timeout: float) -> None:
    left = set(names)
    deadline = time.monotonic() + timeout
    while left:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(left)} appliances not ready after {timeout} s")
        for name in list(left):
            r = cp.api("GET", f"/v1/appliances/{name}")
            if r.status_code == 200 and r.json()["status"] == "ready":
                left.discard(name)
        time.sleep(0.05)


def _create(cp: ControlPlane, name: str, backends: int) -> None:
    r = cp.api("POST", "/v1/appliances", json={"name": name, "account": "acme",
                                               "service": "echo", "subnet": "acme-vpc/app",
                                               "backends": backends})
    assert r.status_code == 202, r.text


def _until(cp: ControlPlane, name: str, gone: bool, timeout: float = 60) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        r = cp.api("GET", f"/v1/appliances/{name}")
        if gone and r.status_code == 404:
            return time.perf_counter() - start
        if not gone and r.status_code == 200 and r.json()["status"] == "ready":
            return time.perf_counter() - start
        time.sleep(0.005)
    raise TimeoutError(name)


def _all_gone(cp: ControlPlane, names: set[str], timeout: float) -> None:
    """Until no appliance of `names` is listed any more (the list, followed page by page)."""
    deadline = time.perf_counter() + timeout
    while {a["name"] for a in cp.items("/v1/appliances")} & names:
        if time.perf_counter() > deadline:
            raise TimeoutError("appliances still listed")
        time.sleep(0.1)


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def _pids(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _idle(cp: ControlPlane, seconds: float) -> dict[str, float]:
    groups = {"control plane": [cp.proc.pid], "agents": _pids("facade.workloads.agent"),
              "workloads": _pids("facade.workloads.http_echo")}
    before = {k: _cpu_ticks(v) for k, v in groups.items()}
    time.sleep(seconds)
    return {k: (_cpu_ticks(v) - before[k]) / CLK / seconds * 100 for k, v in groups.items()}


REPORT = re.compile(r" in the last (\d+) s: (.*)$")
ITEM = re.compile(r"^(.+) (\d+) in ([\d.]+) s CPU$")
WAITS = re.compile(r" queue waits in the last \d+ s: (.*)$")
WAIT = re.compile(r"^(.+) (\d+), (\d+) ms on average, (\d+) ms at most$")


class Costs:
    """The controller's own account of its CPU by activity (controller/costs.py: it logs one
    line every FACADE_REPORT seconds), summed over the lines logged between start and stop."""

    def __init__(self, cp: ControlPlane) -> None:
        self.path = Path(cp.log.name)
        self.offset = 0
        self.seconds = 0.0
        self.cpu: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.waits: dict[str, list[float]] = {}  # kind -> [count, total ms, longest ms]

    def start(self) -> None:
        self.offset = self.path.stat().st_size

    def stop(self) -> None:
        time.sleep(float(os.environ["FACADE_REPORT"]) + 0.5)  # the window's last report
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            lines = fh.read().decode(errors="replace").splitlines()
        for line in lines:
            w = WAITS.search(line)
            for item in w.group(1).split("; ") if w else []:
                it = WAIT.match(item)
                if it is not None:
                    kind, n = it.group(1), int(it.group(2))
                    acc = self.waits.setdefault(kind, [0, 0.0, 0.0])
                    acc[0] += n
                    acc[1] += n * float(it.group(3))
                    acc[2] = max(acc[2], float(it.group(4)))
            m = REPORT.search(line)
            if m is None:
                continue
            self.seconds += float(m.group(1))
            for item in m.group(2).split(", "):
                it = ITEM.match(item)
                if it is not None:
                    self.cpu[it.group(1)] = self.cpu.get(it.group(1), 0.0) + float(it.group(3))
                    self.count[it.group(1)] = self.count.get(it.group(1), 0) + int(it.group(2))

    def table(self, what: str) -> str:
        """Share of one core and CPU per item, by activity, the costliest first."""
        if not self.seconds:
            return f"(no controller report while {what})"
        rows = [f"| {a} | {self.count[a]} | {100 * cpu / self.seconds:.1f} % | "
                f"{1000 * cpu / max(self.count[a], 1):.2f} ms |"
                for a, cpu in sorted(self.cpu.items(), key=lambda kv: -kv[1])]
        # garbage collections are also inside the activity that ran them (controller/costs.py)
        total = 100 * sum(cpu for a, cpu in self.cpu.items()
                          if not a.startswith("garbage collection")) / self.seconds
        waits = [f"| {k} | {int(n)} | {total / n:.0f} ms | {most:.0f} ms |"
                 for k, (n, total, most) in sorted(self.waits.items(), key=lambda kv: -kv[1][2])]
        return (f"the controller's CPU by activity while {what} ({self.seconds:.0f} s of "
                f"reports, {total:.1f} % of a core in all, the garbage collections left out: "
                "they are inside the others):\n"
                "| activity | count | share of one core | CPU each |\n|---|---|---|---|\n"
                + "\n".join(rows)
                + ("\nhow long changes waited for a worker, by kind of key:\n"
                   "| key | count | on average | at most |\n|---|---|---|---|\n"
                   + "\n".join(waits) if waits else ""))


def _reads(cp: ControlPlane, name: str) -> tuple[float, float]:
    import httpx

    with httpx.Client(base_url=cp.url, headers={"Authorization": f"Bearer {cp.token}"},
                      timeout=30) as client:
        lists, ones = [], []
        for _ in range(20):
            t = time.perf_counter()
            client.get("/v1/appliances", params={"limit": 100}).raise_for_status()
            lists.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.get(f"/v1/appliances/{name}").raise_for_status()
            ones.append(time.perf_counter() - t)
    return statistics.median(lists) * 1000, statistics.median(ones) * 1000


def _detection(cp: ControlPlane, count: int) -> tuple[float, float]:
    """Issue 11's detection at this count: an appliance of 2 backends made for it (`dN`), one
    backend's workload hung (SIGSTOP) and then killed (SIGKILL); each time, seconds until its
    address left the front-end's map (read with `nft -j` in the front-end's namespace, not
    through Facade). The appliance is deleted afterwards; its events do not count as false
    degradations."""
    name = f"d{count}"
    _create(cp, name, 2)
    _until(cp, name, gone=False)
    app = cp.get(f"/v1/appliances/{name}")
    fe, victim = app["frontend"]["netns"], app["backends"][0]
    ip = victim["interfaces"][0]["ip"]
    times = []
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        until(lambda: ip in rotation(fe))
        time.sleep(1.5)  # its checks in their steady rhythm
        pid = workload_pid(victim["name"])
        os.kill(pid, sig)
        t = time.perf_counter()
        try:
            until(lambda: ip not in rotation(fe))
            times.append(time.perf_counter() - t)
        except TimeoutError:  # say what the control plane saw, and go on
            times.append(float("nan"))
            seen = cp.get(f"/v1/appliances/{name}")
            print(f"detection at {count}: {victim['name']} (pid {pid}, {sig.name}) still in "
                  f"the rotation after 30 s; {name}: {seen['status']}: "
                  f"{seen.get('status_detail')}; {[b['name'] for b in seen['backends']]}",
                  flush=True)
            _explain(cp, [])
        if sig == signal.SIGSTOP:
            os.kill(pid, signal.SIGCONT)
    cp.api("DELETE", f"/v1/appliances/{name}")
    _until(cp, name, gone=True)
    return times[0], times[1]


class ClientLoop:
    """curl from the customer's instance to one endpoint every 0.2 s until stopped."""

    def __init__(self, netns: str, url: str) -> None:
        self.netns, self.url = netns, url
        self.ok = self.failed = 0
        self.failures: list[str] = []
        self.phase = "build-up"  # what the benchmark does meanwhile, for the failures' record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            res = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-s", "-o",
                                  "/dev/null", "-w", "%{http_code}", "-m", "2", self.url],
                                 capture_output=True, text=True)
            if res.stdout == "200":
                self.ok += 1
            else:
                self.failed += 1
                self.failures.append(f"{time.strftime('%H:%M:%S')} during {self.phase}: "
                                     f"{res.stdout or res.stderr}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _explain(cp: ControlPlane, batch: list[str]) -> None:
    """What the appliances that did not become ready say, and the control plane's log."""
    for name in batch:
        app = cp.get(f"/v1/appliances/{name}")
        if app["status"] != "ready":
            print(f"{name}: {app['status']}: {app.get('status_detail')}", flush=True)
    print(f"control plane: {len(os.listdir(f'/proc/{cp.proc.pid}/fd'))} open files", flush=True)
    log = [line for line in Path(cp.log.name).read_text(errors="replace").splitlines()
           if " in the last " not in line]  # not the CPU reports
    print("\n".join(log[-60:]), flush=True)


def _phase(loop: ClientLoop | None, what: str) -> None:
    if loop is not None:
        loop.phase = what


def _all_events(cp: ControlPlane) -> list[dict[str, Any]]:
    """Every event of the run (newest first), page after page."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = cp.get("/v1/events", params=params)
        out += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def _timeline(cp: ControlPlane, name: str, created: float, count: int) -> str:
    """What happened to one appliance from its creation to `ready`, from its events (each
    stamped when its transaction committed), as seconds after the API call."""

    page = cp.get("/v1/events", params={"limit": 400})["items"]
    lines = []
    for e in reversed(page):
        if name not in e["object"]:
            continue
        at = dt.datetime.fromisoformat(e["time"]).timestamp() - created
        lines.append(f"  +{at:6.3f} s  {e['kind']:<24} {e['object']}: {e['message'][:70]}")
        if e["kind"] == "appliance.ready":
            break
    return (f"the median creation at {count} ({name}), its events:\n" + "\n".join(lines)
            + _trace(cp, created, at if lines else 5.0))


LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) facade\.trace (.*)$")


def _trace(cp: ControlPlane, created: float, seconds: float) -> str:
    """Every key and action the controller logged (FACADE_TRACE) within `seconds` of
    `created`: what the workers did while the appliance was being made."""

    out = []
    for line in Path(cp.log.name).read_text(errors="replace").splitlines():
        m = LOGGED.match(line)
        if m is None:
            continue
        at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - created
        if -0.05 <= at <= seconds + 0.05:
            out.append(f"  +{at:6.3f} s  {m.group(2)}")
    return ("\nevery key and action logged meanwhile (at its end):\n" + "\n".join(out)
            if out else "")


def _false_degradations(events: list[dict[str, Any]], delete_all: float) -> list[str]:
    """Each `appliance.degraded` event, and whether it came while everything was being
    deleted (`delete_all`: when that began, epoch seconds)."""
    out = []
    for e in events:
        if e["kind"] == "appliance.degraded" and not re.fullmatch(r"d\d+", e["object"]):
            at = dt.datetime.fromisoformat(e["time"]).timestamp()
            when = "during delete all" if at >= delete_all else "before delete all"
            out.append(f"{e['object']}: {e['message']} ({when})")
    return out


def _made_again(events: list[dict[str, Any]]) -> dict[str, int]:
    """Nodes made again after they were first made, by reason (nothing was broken on purpose:
    a quiet world should have none)."""
    out: dict[str, int] = {}
    for e in events:
        if e["kind"] == "reconcile.ensure_node" and e["message"] != "missing":
            out[e["message"]] = out.get(e["message"], 0) + 1
    return out


def _failures(events: list[dict[str, Any]]) -> dict[str, int]:
    """Reconcile failures by what failed (nothing was broken on purpose either)."""
    out: dict[str, int] = {}
    for e in events:
        if e["kind"] == "reconcile.failed":
            what = re.sub(r"\d+", "N", e["message"])[:160]  # alike once ids are left out
            out[what] = out.get(what, 0) + 1
    return out


def _profile(cp: ControlPlane, seconds: float, during: Any = None) -> str:
    """py-spy on the control plane for `seconds`, or while `during()` runs; the top frames."""
    spy = shutil.which("py-spy")
    if spy is None:
        return "(py-spy not installed: pip install py-spy==0.4.1 to profile)"
    out = Path("/tmp/facade-scale-profile.txt")
    out.unlink(missing_ok=True)
    cmd = [spy, "record", "--pid", str(cp.proc.pid), "--format", "raw", "--output", str(out),
           "--nonblocking", "--duration", str(int(seconds))]
    if during is None:
        subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    else:
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # attached
        during()
        spy_proc.send_signal(signal.SIGINT)  # py-spy writes what it has and stops
        spy_proc.wait(timeout=30)
    counts: dict[str, int] = {}
    total = 0
    for line in out.read_text(errors="replace").splitlines() if out.exists() else []:
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue  # not a sample (py-spy's own remarks)
        frames = stack.split(";")
        total += int(n)
        for frame in {f.split(" (")[0] for f in frames if "facade" in f}:
            counts[frame] = counts.get(frame, 0) + int(n)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:20]
    return "\n".join(f"{100 * n / max(total, 1):5.1f} %  {f}" for f, n in top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counts", default="10,100,500")
    ap.add_argument("--backends", type=int, default=1)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--sample", type=int, default=5)
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--profile-create", type=int, default=0, metavar="N",
                    help="at the largest count, profile N creations one after the other")
    ap.add_argument("--profile-delete", action="store_true",
                    help="profile the control plane while every appliance is deleted")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    rows: list[dict[str, Any]] = []
    with control_plane_with(LAYOUT) as cp:
        top = counts[-1] + args.sample + args.profile_create + 1  # + the detection's
        r = cp.api("PUT", "/v1/accounts/acme/quotas",
                   json={"appliances": top, "backends": top * max(args.backends, 2)})
        assert r.status_code == 200, r.text
        client = cp.get("/v1/instances/client")["netns"]
        names: list[str] = []
        loop: ClientLoop | None = None
        build_times: list[tuple[int, float]] = []
        profile = created_profile = deleted_profile = ""
        costs_tables: list[str] = []
        timelines: list[str] = []
        for target in counts:
            while len(names) < target:
                batch = [f"a{len(names) + i}" for i in range(min(args.batch,
                                                                 target - len(names)))]
                t = time.perf_counter()
                for name in batch:
                    _create(cp, name, args.backends)
                try:
                    _ready_all(cp, batch, timeout=60 + 5 * len(batch))
                except TimeoutError:
                    _explain(cp, batch)
                    raise
                build_times.append((len(names), (time.perf_counter() - t) / len(batch)))
                names += batch
                if loop is None:
                    ep = cp.get(f"/v1/appliances/{names[0]}")["endpoint"]["ip"]
                    loop = ClientLoop(client, f"http://{ep}/")
                    loop.start()
            _phase(loop, f"samples at {target}")
            time.sleep(2)
            samples = []
            started: dict[str, float] = {}
            create_costs = Costs(cp)
            create_costs.start()
            for i in range(args.sample):
                name = f"s{target}-{i}"
                t = time.perf_counter()
                started[name] = time.time()
                _create(cp, name, args.backends)
                try:
                    _until(cp, name, gone=False)
                except TimeoutError:
                    _explain(cp, [name])
                    print(_timeline(cp, name, started[name], len(names)), flush=True)
                    raise
                samples.append(time.perf_counter() - t)
            create_costs.stop()
            costs_tables.append(create_costs.table(
                f"{args.sample} appliances are created one after the other at {len(names)}"))
            median = sorted(started, key=lambda n: samples[list(started).index(n)])[
                len(samples) // 2]
            timelines.append(_timeline(cp, median, started[median], len(names)))
            deletes = []
            for i in range(args.sample):
                name = f"s{target}-{i}"
                t = time.perf_counter()  # the call itself waits for most of the deletion
                cp.api("DELETE", f"/v1/appliances/{name}")
                _until(cp, name, gone=True)
                deletes.append(time.perf_counter() - t)
            time.sleep(3)
            _phase(loop, f"idle at {target}")
            idle_costs = Costs(cp)
            idle_costs.start()
            idle = _idle(cp, args.idle)
            idle_costs.stop()
            costs_tables.append(idle_costs.table(f"idle at {len(names)}"))
            list_ms, one_ms = _reads(cp, names[0])
            _phase(loop, f"detection at {target}")
            hung, killed = _detection(cp, len(names))
            rows.append({"n": len(names), "ready": statistics.median(samples),
                         "delete": statistics.median(deletes), **idle,
                         "rss": _rss_mb(cp.proc.pid), "list": list_ms, "one": one_ms,
                         "hung": hung, "killed": killed})
            print(f"... {rows[-1]}", flush=True)
            if args.profile and target == counts[-1]:
                profile = _profile(cp, args.idle)
            if args.profile_create and target == counts[-1]:
                def create_some(n: int = args.profile_create, count: int = len(names)) -> None:
                    for i in range(n):
                        _create(cp, f"p{i}", args.backends)
                        try:
                            _until(cp, f"p{i}", gone=False)
                        except TimeoutError:
                            _explain(cp, [f"p{i}"])
                            print(_timeline(cp, f"p{i}", time.time(), count), flush=True)
                            raise
                created_profile = _profile(cp, 600, during=create_some)
                names += [f"p{i}" for i in range(args.profile_create)]
            _phase(loop, "build-up")
        if loop is not None:
            loop.stop()  # its appliance goes too
        t = time.perf_counter()
        delete_all_at = time.time()
        delete_costs = Costs(cp)
        delete_costs.start()

        def delete_every() -> None:
            # every DELETE waits until its appliance is gone (up to 15 s): DELETERS clients
            # side by side, as a script deleting many would be, then the list until empty
            with ThreadPoolExecutor(DELETERS) as pool:
                codes = list(pool.map(
                    lambda name: cp.api("DELETE", f"/v1/appliances/{name}").status_code,
                    names))
            assert set(codes) == {202}, sorted(set(codes))
            _all_gone(cp, set(names), timeout=300)

        if args.profile_delete:
            deleted_profile = _profile(cp, 900, during=delete_every)
        else:
            delete_every()
        delete_all = time.perf_counter() - t
        delete_costs.stop()
        costs_tables.append(delete_costs.table(f"all {len(names)} are deleted"))
        left = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                          text=True).stdout.split() if n.startswith("fcd-i")
                and not n.endswith("-client")]
        events = _all_events(cp)
        degraded = _false_degradations(events, delete_all_at)
        again = _made_again(events)
        failed = _failures(events)
    print(f"\nscale: http-echo appliances of {args.backends} backend(s), created through the "
          f"API in batches of {args.batch}; {args.sample} timed at each count; idle "
          f"{args.idle:g} s\n")
    print("| appliances | create->ready (median) | delete one | control plane CPU idle "
          "| agents CPU | workloads CPU | control plane RSS | GET list?limit=100 | GET one "
          "| out of rotation: hung, killed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['ready']:.3f} s | {r['delete']:.3f} s "
              f"| {r['control plane']:.1f} % | {r['agents']:.1f} % | {r['workloads']:.1f} % "
              f"| {r['rss']:.0f} MB | {r['list']:.1f} ms | {r['one']:.1f} ms "
              f"| {r['hung']:.2f} s, {r['killed']:.2f} s |")
    if len(rows) >= 2:
        print(f"\ncreate->ready at {rows[-1]['n']} / at {rows[0]['n']}: "
              f"**{rows[-1]['ready'] / rows[0]['ready']:.2f}** (target <= 1.2, and <= 0.5 s)")
    per_batch = ", ".join(f"{n}: {s:.2f}" for n, s in build_times[:: max(1, len(build_times)
                                                                           // 10)])
    print(f"build-up, seconds per appliance by count before the batch: {per_batch}")
    print(f"delete all {len(names)}: {delete_all:.1f} s; namespaces left: {len(left)}")
    if loop is not None:
        print(f"client loop against {names[0]}: {loop.ok} ok, {loop.failed} failed "
              f"{loop.failures[:5]}")
    print(f"appliance.degraded events (nothing was broken on purpose, the detection's "
          f"appliances aside): {len(degraded)} {degraded[:5]}")
    print(f"nodes made again (by reason): {sum(again.values())} {again}")
    print(f"reconcile failures (by action): {sum(failed.values())} {failed}")
    for timeline in timelines:
        print(f"\n{timeline}")
    for table in costs_tables:
        print(f"\n{table}")
    if profile:
        print(f"\nwhere the control plane's time goes while idle at {rows[-1]['n']} "
              f"(py-spy, share of samples in which each function is on the stack):\n{profile}")
    if deleted_profile:
        print(f"\nwhere the control plane's time goes while all {len(names)} are deleted:\n"
              f"{deleted_profile}")
    if created_profile:
        print(f"\nwhere the control plane's time goes while {args.profile_create} appliances "
              f"are created one after the other at {rows[-1]['n']}:\n{created_profile}")


if __name__ == "__main__":
    main()
