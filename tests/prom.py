"""Reading a Prometheus text exposition in tests, through prometheus_client's own parser (not
the code that wrote it): every sample by name and labels, whatever their order."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, its labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample with exactly these labels; None when there is none."""
    return samples(text).get((name, frozenset(labels.items())))


def with_labels(text: str, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of `name` whose labels include these: its labels -> its value."""
    want = set(labels.items())
    return {got: v for (n, got), v in samples(text).items() if n == name and want <= got}
