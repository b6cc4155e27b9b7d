"""domain.workload: built-in workloads and command templates."""

from __future__ import annotations

import pytest

from facade.domain import workload
from facade.domain.errors import Invalid

pytestmark = pytest.mark.no_store  # tests/conftest.py


@pytest.mark.parametrize("name", ["http-echo", "search"])
def test_builtins_accepted(name: str) -> None:
    assert workload.check_builtin(name, where="workload") == name


@pytest.mark.parametrize("name", ["nginx", "", None, "Search"])
def test_unknown_builtin(name: object) -> None:
    with pytest.raises(Invalid) as exc:
        workload.check_builtin(name, where="workload")
    assert exc.value.where == "workload"
    assert "unknown workload" in exc.value.message and "http-echo, search" in exc.value.message


def test_check_command_splits_like_a_shell() -> None:
    args = workload.check_command("prog --ip {ip} --port={port} 'a b' {name}", where="command")
    assert args == ["prog", "--ip", "{ip}", "--port={port}", "a b", "{name}"]


@pytest.mark.parametrize(("template", "words"), [
    ("prog {host}", "unknown placeholder {host}"),
    ("prog {0}", "unknown placeholder {0}"),
    ("prog {}", "unknown placeholder {}"),
    ("prog {ip", "bad placeholder"),
    ("prog 'unclosed", "cannot be split"),
    ("", "non-empty"), ("   ", "non-empty"),
    ("x" * 4097, "4096")])
def test_bad_command(template: str, words: str) -> None:
    with pytest.raises(Invalid) as exc:
        workload.check_command(template, where="command")
    assert words in exc.value.message
    assert exc.value.where == "command"


def test_command_not_a_string() -> None:
    with pytest.raises(Invalid, match="non-empty string"):
        workload.check_command(["prog"], where="command")


def test_render_substitutes_per_argument_without_shell() -> None:
    argv = workload.render_command("prog --ip {ip} --port {port} --name={name} ';rm' '$(x)'",
                                   ip="10.0.0.2", port=8080, name="docs-b1")
    assert argv == ["prog", "--ip", "10.0.0.2", "--port", "8080", "--name=docs-b1", ";rm",
                    "$(x)"]


def test_render_does_not_expand_braces_in_values() -> None:
    argv = workload.render_command("echo {name}", ip="1.2.3.4", port=1, name="{ip}")
    assert argv == ["echo", "{ip}"]


def test_escaped_braces_are_literal() -> None:
    assert workload.render_command("echo {{x}} {port}", ip="i", port=5, name="n") == [
        "echo", "{x}", "5"]


def test_builtin_argv() -> None:
    argv = workload.builtin_argv("/py", "search", ip="10.0.0.2", port=80, name="b1",
                                 data_dir="/d", peers_file="/p.json")
    assert argv[:3] == ["/py", "-m", "facade.workloads.search"]
    assert argv[argv.index("--ip") + 1] == "10.0.0.2"
    assert argv[argv.index("--port") + 1] == "80"
    assert argv[argv.index("--peers-file") + 1] == "/p.json"
    echo = workload.builtin_argv("/py", "http-echo", ip="i", port=1, name="n", data_dir="/d",
                                 peers_file="/p")
    assert "--data-dir" not in echo and echo[2] == "facade.workloads.http_echo"


def test_default_health_path() -> None:
    assert workload.default_health_path("search") == "/health"
    assert workload.default_health_path("http-echo") == "/health"
    assert workload.default_health_path(None) is None
