"""The control plane's own metrics, in a prometheus_client registry of its own (one per
Context: several control planes in one process, as the tests run them, never share series):
how long reconciles take and how they end, how deep the work queue is, how health checks come
out, and how long the API takes per route. `GET /metrics` shows them to the operator after the
usage series (service/usage.py).

The API and the controller both write here (this layer is below both); nothing here reads the
store. Every label's values are bounded: a reconciler's kind, an outcome from a fixed list, a
route's template (never the path a client sent), an HTTP method from a fixed list and a
status code. The queue's depth is asked of the queue at scrape time (a copy of a few counts
it keeps as it goes): a scrape costs no look at the world and no thread of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

# reconcile outcomes (controller/loop.py): done, come back later, failed and retried with
# backoff, failed for good (until the object changes), or a reconciler's own bug
OUTCOMES = ("ok", "later", "retry", "fatal", "error")
HEALTH_OUTCOMES = ("pass", "fail", "timeout")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route matched (a 404)

# a key's reconcile takes about 10 ms of CPU; a node's making in the kernel up to seconds
RECONCILE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0, 30.0)
# a read takes milliseconds; a create that waits for the controller (converge) up to 30 s
API_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

QueueDepth = Callable[[], Mapping[tuple[str, str], int]]


class _QueueCollector(Collector):
    """`facade_queue_depth{kind, state}`, read from the queue when scraped."""

    def __init__(self) -> None:
        self.read: QueueDepth | None = None

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "facade_queue_depth", "Keys in the controller's work queue, by kind and state "
            "(waiting: to be handed to a worker now; delayed: a retry's backoff, a deferred "
            "or throttled key, or one waiting for another).", labels=("kind", "state"))
        read = self.read
        for (kind, state), count in sorted((read() if read is not None else {}).items()):
            family.add_metric((kind, state), count)
        yield family

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("facade_queue_depth", "", labels=("kind", "state"))


class _WithoutCreated(Collector):
    """A registry's series without the `_created` samples prometheus_client adds to counters
    and histograms (one more series per label set that nobody here reads)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class Metrics:
    """One control plane's metric objects and their registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reconcile_seconds = Histogram(
            "facade_reconcile_duration_seconds",
            "Time a worker took to reconcile one key, by the key's kind and how it ended "
            f"({', '.join(OUTCOMES)}).",
            ("kind", "outcome"), buckets=RECONCILE_BUCKETS, registry=self.registry)
        self.health_checks = Counter(
            "facade_health_checks", "Backend health checks that came back, by the check's "
            f"type and outcome ({', '.join(HEALTH_OUTCOMES)}).",
            ("type", "outcome"), registry=self.registry)
        self.api_seconds = Histogram(
            "facade_api_request_duration_seconds",
            "Time the API took to answer, by route template, method and status code (route "
            f"'{UNMATCHED}' when no route matched).",
            ("route", "method", "status"), buckets=API_BUCKETS, registry=self.registry)
        self._queue = _QueueCollector()
        self.registry.register(self._queue)

    def watch_queue(self, read: QueueDepth) -> None:
        """Where `facade_queue_depth` is read from (the running controller's queue)."""
        self._queue.read = read

    def reconciled(self, kind: str, outcome: str, seconds: float) -> None:
        self.reconcile_seconds.labels(kind, outcome).observe(seconds)

    def health_checked(self, check_type: str, outcome: str) -> None:
        self.health_checks.labels(check_type, outcome).inc()

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.api_seconds.labels(route, method, str(status)).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format 0.0.4."""
        return generate_latest(_WithoutCreated(self.registry))


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(families: Iterable[Metric]) -> bytes:
    """Metric families made for one answer (a caller's usage), in the text format 0.0.4."""
    return generate_latest(_Families(families))


def health_outcome(passed: bool, detail: str) -> str:
    """A check's outcome: it passed, it timed out (the drivers say "timed out"), or it
    failed otherwise (refused, a bad status, no namespace...)."""
    if passed:
        return "pass"
    return "timeout" if "timed out" in detail else "fail"
