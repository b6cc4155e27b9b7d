"""The host agent applying its host's kernel work (docs/multi-host.md, "The host agent
applies its host's kernel work"): a long poll for the intents of its host (`GET
/v1/host-agent/work`), each run on the host's kernel by the data plane's executor
(dataplane/executor.py: the linux driver's own functions), side by side up to `concurrency`,
and its answer posted as soon as it is done (`POST /v1/host-agent/results`), so a quick
operation never waits for a slow one. The control plane only queues an intent while its caller
waits for it, so what is taken at once concerns different objects.

While the control plane is away the agent keeps its host as it is (nothing is flushed) and
asks again with backoff; a refusal (not registered yet, or superseded) waits likewise, since
the heartbeat loop (loop.py) registers again or stops the agent. An answer that cannot be
delivered is dropped: its caller gave up and retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from facade.dataplane import executor
from facade.dataplane.executor import HostKernel
from facade.dataplane.intents import Intent
from facade.workloads.host_agent.errors import Away, Refused

BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between polls the control plane did not answer
MAX_MESSAGE = 4000  # characters of a failure's message posted


class Transport(Protocol):
    """The agent's requests to the control plane (loop.HostAgent's, over HTTP): answers as
    JSON, Away or Refused otherwise."""

    def get(self, path: str, query: dict[str, str], timeout: float) -> dict[str, Any]: ...

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class WorkLoop:
    transport: Transport
    kernel: HostKernel
    agent: str
    stop: threading.Event
    say: Callable[[str], None] = print
    concurrency: int = 4
    wait: float = 20.0  # seconds one long poll waits for work
    limit: int = 32  # intents one poll takes at most

    def run(self) -> None:
        """Poll, run and answer until `stop`."""
        tries = 0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="facade-intent") as pool:
            while not self.stop.is_set():
                try:
                    work = self.transport.get(
                        "/v1/host-agent/work",
                        {"agent": self.agent, "wait": f"{self.wait:g}",
                         "limit": str(self.limit)}, self.wait + 10.0)
                except (Away, Refused) as exc:
                    pause = BACKOFF[min(tries, len(BACKOFF) - 1)]
                    if tries == 0:
                        self.say(f"no work from the control plane ({exc}); asking again")
                    tries += 1
                    self.stop.wait(pause)
                    continue
                tries = 0
                for item in work.get("intents", []):
                    intent = Intent(id=str(item["id"]), op=str(item["op"]),
                                    args=dict(item["args"]))
                    pool.submit(self.one, intent)

    def one(self, intent: Intent) -> None:
        """Run one intent and post its answer."""
        answer = executor.answer(self.kernel, intent)
        result: dict[str, Any] = {"id": answer.id}
        if answer.failure is None:
            result["value"] = answer.value
        else:
            result["error"] = {"message": answer.failure.message[:MAX_MESSAGE],
                               "kind": answer.failure.kind.value}
        try:
            self.transport.post("/v1/host-agent/results",
                                {"agent": self.agent, "results": [result]})
        except (Away, Refused) as exc:
            self.say(f"the answer to {intent.op} was not delivered ({exc}); its caller "
                     "tries again")
