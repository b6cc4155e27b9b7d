"""What an operation on a host costs when it goes through the host's agent
(docs/multi-host.md, "The host agent applies its host's kernel work"): a control plane served
on a loopback port (the fake driver, its routed data plane), the real agent's life and work
loop (workloads/host_agent: urllib, its long poll and posts) in this process with the fake
driver as its host's kernel, and callers that queue operations and wait for the answers
(dataplane/remote.py). The kernel's own time is nothing here: what is measured is the queue,
the long poll, JSON both ways and HTTP over loopback.

    .venv/bin/python bench/host_work.py [--calls 300] [--callers 4]

No root needed. Prints the median and the 95th percentile of one operation's round trip, one
caller after another and `--callers` side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.console_plane import _free_port
from tests.stores import open_context

from facade.api.app import create_app
from facade.dataplane import intents
from facade.dataplane.fake import FakeDataPlane
from facade.domain.specs import NodeSpec, PortSpec, SandboxSpec, SubnetSpec
from facade.domain.states import NodeRole
from facade.service import accounts, host_agents, host_work
from facade.service.context import Caller
from facade.workloads.host_agent.loop import HostAgent


class HostFake(FakeDataPlane):
    def ensure_node(self, spec: NodeSpec, start: object = ()) -> frozenset[str]:
        for port in spec.ports:
            self.subnets.setdefault(port.bridge, SubnetSpec(port.bridge, "10.0.0.0/8"))
        return super().ensure_node(spec, ())


def _spec(i: int) -> NodeSpec:
    return NodeSpec(netns=f"fcd-i{i}-n{i}", role=NodeRole.BACKEND, host="h1", ports=tuple(
        PortSpec(host=f"fcdv{3 * i + k}", bridge=f"fcdb{k + 1}", ifname=f"eth{k}",
                 address=f"10.{k}.{i // 250}.{i % 250 + 2}/16", gateway=f"10.{k}.0.1",
                 mac=f"02:00:00:{k:02x}:{i // 250:02x}:{i % 250:02x}")
        for k in range(2)),
        sandbox=SandboxSpec(uid=100000 + i * 65536, hostname=f"n{i}", memory=1 << 28,
                            pids=64, cpu_weight=100))


def _times(calls: int, callers: int, call: object) -> list[float]:
    def one(i: int) -> float:
        t = time.perf_counter()
        call(i)  # type: ignore[operator]
        return time.perf_counter() - t

    with ThreadPoolExecutor(callers) as pool:
        return list(pool.map(one, range(calls)))


def _say(what: str, times: list[float]) -> None:
    ms = sorted(t * 1e3 for t in times)
    print(f"{what}: median {statistics.median(ms):.2f} ms, p95 "
          f"{ms[int(len(ms) * 0.95) - 1]:.2f} ms ({len(ms)} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--callers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(Path(tmp) / "home", FakeDataPlane())
        host_work.route(ctx)
        token = accounts.bootstrap_operator(ctx)
        assert token
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        op = accounts.authenticate(ctx, token)
        made = host_agents.create_token(ctx, Caller(op.account_id, op.account, True), "h1")
        kernel = HostFake(hosts={"h1": "10.9.0.1"})
        agent = HostAgent(url=f"http://127.0.0.1:{port}", token=made.token,
                          underlay="10.9.0.1", say=lambda _: None, kernel=lambda _: kernel)
        running = threading.Thread(target=agent.run, daemon=True)
        running.start()
        while not ctx.host_work.present("h1"):
            time.sleep(0.02)
        work = ctx.host_work
        for callers in (1, args.callers):
            _say(f"has_node, {callers} caller(s)", _times(args.calls, callers, lambda i: work.call(
                "h1", "has_node", intents.FLAG, None, netns=f"fcd-i{i}-n{i}")))
            _say(f"ensure_node (2 ports), {callers} caller(s)", _times(
                args.calls, callers, lambda i: work.call(
                    "h1", "ensure_node", intents.STARTED, None, spec=_spec(i), start=())))
        agent.stop.set()
        running.join(30)
        server.should_exit = True


if __name__ == "__main__":
    main()
