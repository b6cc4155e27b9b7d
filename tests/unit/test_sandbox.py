"""Tenant sandboxes without root: the rules (uid ranges, limits), what the sandbox is told to
show (bwrap's arguments), where limits are written (cgroup v1 and v2 trees laid out in a
temporary folder), the seccomp filter's compilation, port security and a tenant's own network in
the plan, and limits in a scenario file (through the API: tests/service/test_sandbox_api.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from facade.dataplane.linux import cgroups, seccomp
from facade.dataplane.linux.sandbox_view import (
    CAPABILITIES,
    caps_args,
    env_args,
    runtime_paths,
    view_args,
)
from facade.domain import sandbox
from facade.domain.errors import Invalid
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

# -- rules -----------------------------------------------------------------------------------


def test_each_account_gets_its_own_uid_range_far_from_real_users() -> None:
    a, b = sandbox.uid_base(1), sandbox.uid_base(2)
    assert b - a == sandbox.UID_RANGE == 65536
    assert a >= sandbox.FIRST_UID > 65536 * 1000
    top = sandbox.uid_base(sandbox.MAX_ACCOUNT_ID) + sandbox.UID_RANGE - 1
    assert top < 0xFFFFFFFF  # (uid_t)-1 means "no uid"
    for bad in (0, -1, sandbox.MAX_ACCOUNT_ID + 1):
        with pytest.raises(ValueError):
            sandbox.uid_base(bad)


def test_limits_are_checked_field_by_field() -> None:
    assert sandbox.check_limits(None) == {}
    assert sandbox.check_limits({"memory_mb": 64, "pids": None}) == {"memory_mb": 64}
    cases = [({"memory_mb": 8}, "limits.memory_mb", "16 to 65536"),
             ({"pids": True}, "limits.pids", "whole number"),
             ({"cpu_weight": 0}, "limits.cpu_weight", "1 to 10000"),
             ({"cpu_weight": 1.5}, "limits.cpu_weight", "whole number"),
             ({"swap": 1}, "limits.swap", "unknown limit"),
             ([1], "limits", "mapping")]
    for raw, where, words in cases:
        with pytest.raises(Invalid) as info:
            sandbox.check_limits(raw)
        assert info.value.where == where and words in info.value.message, (raw, info.value)


def test_effective_limits_fill_in_the_defaults() -> None:
    got = sandbox.effective(256, None, None)
    assert got == sandbox.Limits(memory_mb=256, pids=512, cpu_weight=100)
    assert got.memory == 256 * 1024 * 1024


# -- what bwrap is asked to do ------------------------------------------------------------------


def _pairs(args: list[str], flag: str, arity: int = 2) -> list[tuple[str, ...]]:
    return [tuple(args[i + 1:i + 1 + arity]) for i, a in enumerate(args) if a == flag]


def test_the_view_shows_the_system_read_only_and_the_node_its_own_folders() -> None:
    fs = Path("/run/facade/p/n/fcd-i1-client/fs")
    args = view_args(fs=fs, hostname="client", runtime=[("/run/facade/p/py", "/opt/py")],
                     binds=[("/run/facade/p/app/7", "/facade/appliance")],
                     hide=["/opt/py/state"])
    ro = _pairs(args, "--ro-bind")
    rw = _pairs(args, "--bind")
    assert ("/usr", "/usr") in ro and ("/etc", "/etc") in ro
    assert ("/run/facade/p/py", "/opt/py") in ro
    assert ("/run/facade/p/app/7", "/facade/appliance") in ro
    assert sorted(dst for _, dst in rw) == ["/home", "/root", "/run", "/tmp", "/var"]
    assert all(src.startswith(str(fs) + "/") for src, _ in rw)
    assert _pairs(args, "--tmpfs", 1) == [("/opt/py/state",)]
    assert _pairs(args, "--hostname") == [("client", "--unshare-cgroup-try")][:0] or \
        args[args.index("--hostname") + 1] == "client"
    for flag in ("--unshare-ipc", "--unshare-uts"):
        assert flag in args
    # nothing of the host's own state: no /run/netns, /sys, /proc bind, no whole-root bind
    bound = {dst for _, dst in ro + rw}
    assert not bound & {"/", "/sys", "/run/netns", "/proc", "/dev"}
    assert ("/proc",) in _pairs(args, "--proc", 1) and ("/dev",) in _pairs(args, "--dev", 1)
    # the tenant's folders come after the system's, the read-only binds after the folders
    assert args.index("/tmp") < args.index("/opt/py") < args.index("/facade/appliance")


def test_the_environment_is_cleared_and_the_capabilities_are_namespaced_ones() -> None:
    env = env_args("client", (("ROLE", "x"),))
    assert env[0] == "--clearenv"
    assert dict(_pairs(env, "--setenv")) == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root", "HOSTNAME": "client", "LANG": "C.UTF-8", "ROLE": "x"}
    caps = [c for (c,) in _pairs(caps_args(), "--cap-add", 1)]
    assert caps == list(CAPABILITIES) and "CAP_NET_ADMIN" in caps
    for never in ("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO",
                  "CAP_DAC_READ_SEARCH", "CAP_SYS_TIME", "CAP_MKNOD", "CAP_BPF"):
        assert never not in caps


def test_the_python_that_runs_facade_is_shown_but_not_usr_twice() -> None:
    paths = runtime_paths()
    assert paths and all(p.is_absolute() for p in paths)
    assert not any(p == Path("/usr") or Path("/usr") in p.parents for p in paths)
    for p in paths:  # no path inside another
        assert not any(q != p and q in p.parents for q in paths)


def test_the_seccomp_filter_compiles_to_a_bpf_program() -> None:
    program = seccomp.compile_filter()
    assert program and len(program) % 8 == 0  # struct sock_filter is 8 bytes
    assert program == seccomp.compile_filter()  # the same for every sandbox


# -- cgroups -------------------------------------------------------------------------------------

V1 = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2 = "30 23 0:27 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"


def _tree(tmp: Path, text: str, subtree: dict[str, str]) -> cgroups.Hierarchies:
    info = tmp / "mountinfo"
    info.write_text(text)
    for mount, controllers in subtree.items():
        (tmp / mount).mkdir(parents=True, exist_ok=True)
        (tmp / mount / "cgroup.subtree_control").write_text(controllers)
    return cgroups.Hierarchies.discover(str(info), root=tmp)


def test_v1_controllers_are_used_where_mounted(tmp_path: Path) -> None:
    h = _tree(tmp_path, V1, {"sys/fs/cgroup/unified": "hugetlb"})
    assert {c: v2 for c, (_, v2) in h.where.items()} == {"cpu": False, "memory": False,
                                                          "pids": False}
    groups = cgroups.NodeGroups("plane", h)
    for c in ("memory", "pids", "cpu"):  # what the kernel's files would be
        d = tmp_path / f"sys/fs/cgroup/{c}/facade/plane/fcd-i1-a"
        d.mkdir(parents=True)
        names = {"memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
                 "pids": ["pids.max"], "cpu": ["cpu.shares"]}[c]
        for n in names + ["cgroup.procs"]:
            (d / n).write_text("")
    groups.ensure("fcd-i1-a", cgroups.Limits(memory=64 << 20, pids=32, cpu_weight=50))
    base = tmp_path / "sys/fs/cgroup"
    node = "facade/plane/fcd-i1-a"
    assert (base / "memory" / node / "memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (base / "memory" / node / "memory.memsw.limit_in_bytes").read_text() == str(64 << 20)
    assert (base / "pids" / node / "pids.max").read_text() == "32"
    assert (base / "cpu" / node / "cpu.shares").read_text() == "512"
    groups.add("fcd-i1-a", 4242)
    assert all((base / c / node / "cgroup.procs").read_text() == "4242"
               for c in ("memory", "pids", "cpu"))
    assert groups.node_groups() == {"fcd-i1-a"}


def test_v2_is_used_for_what_the_root_hands_down(tmp_path: Path) -> None:
    h = _tree(tmp_path, V2, {"sys/fs/cgroup": "cpu memory pids io"})
    assert {c: v2 for c, (_, v2) in h.where.items()} == {"cpu": True, "memory": True,
                                                          "pids": True}
    groups = cgroups.NodeGroups("plane", h)
    top = tmp_path / "sys/fs/cgroup/facade"
    node = top / "plane" / "fcd-i2-b"
    node.mkdir(parents=True)
    for d in (top, top / "plane"):
        (d / "cgroup.subtree_control").write_text("")
    for n in ("memory.max", "memory.swap.max", "pids.max", "cpu.weight"):
        (node / n).write_text("")
    groups.ensure("fcd-i2-b", cgroups.Limits(memory=1 << 30, pids=100, cpu_weight=300))
    assert (top / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (node / "memory.max").read_text() == str(1 << 30)
    assert (node / "memory.swap.max").read_text() == "0"
    assert (node / "pids.max").read_text() == "100"
    assert (node / "cpu.weight").read_text() == "300"


def test_a_process_another_pid_namespace_holds_is_never_listed_as_0(tmp_path: Path) -> None:
    """cgroup.procs lists, as 0, what the reader's PID namespace cannot see (a control plane
    in another sandbox): cleanup must not hand 0 to kill(), "my own process group"."""
    h = _tree(tmp_path, V2, {"sys/fs/cgroup": "cpu memory pids"})
    groups = cgroups.NodeGroups("plane", h)
    for plane, node, procs in (("plane", "fcd-i1-a", "0\n4242\n0\n"),
                               ("other", "fcd-i9-z", "0\n")):
        d = tmp_path / "sys/fs/cgroup/facade" / plane / node
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text(procs)
    assert groups.pids("fcd-i1-a") == [4242]
    assert groups.all_pids() == [4242]


def test_a_planes_cleanup_removes_its_own_groups_only(tmp_path: Path) -> None:
    """Two control planes on one host (two test runs side by side, each in a sandbox of its
    own): the cgroup hierarchies are shared, so one plane's cleanup leaves the other's groups
    (one it made and has not put a process in yet, say); the user's cleanup removes all."""
    h = _tree(tmp_path, V1, {})
    base = tmp_path / "sys/fs/cgroup"
    for c in ("memory", "pids", "cpu"):
        for plane, node in (("plane", "fcd-i1-a"), ("plane", "fcd-i2-b"), ("other", "fcd-i9-z")):
            (base / c / "facade" / plane / node).mkdir(parents=True)
    mine, other = cgroups.NodeGroups("plane", h), cgroups.NodeGroups("other", h)
    assert mine.plane_pids() == []
    assert mine.remove_plane() == ["cgroup fcd-i1-a", "cgroup fcd-i2-b"]
    assert other.node_groups() == {"fcd-i9-z"} and mine.node_groups() == set()
    assert all(not (base / c / "facade/plane").exists() for c in ("memory", "pids", "cpu"))
    assert other.remove_plane() == ["cgroup fcd-i9-z"]
    assert all(not (base / c / "facade").exists() for c in ("memory", "pids", "cpu"))
    for c in ("memory", "pids", "cpu"):
        (base / c / "facade/plane/fcd-i1-a").mkdir(parents=True)
        (base / c / "facade/other/fcd-i9-z").mkdir(parents=True)
    assert mine.remove_all() == ["cgroup fcd-i1-a", "cgroup fcd-i9-z"]
    assert all(not (base / c / "facade").exists() for c in ("memory", "pids", "cpu"))


def test_a_group_is_made_again_when_another_planes_cleanup_took_facades(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another plane's cleanup removes facade/ once empty: between this plane making it and
    making its own group in it, the group's parent is gone (FileNotFoundError); ensure makes
    both again."""
    h = _tree(tmp_path, V2, {"sys/fs/cgroup": "cpu memory pids"})
    groups = cgroups.NodeGroups("plane", h)
    real = cgroups.NodeGroups._enable_v2
    calls = []

    def racing(self: cgroups.NodeGroups, mount: Path) -> None:
        calls.append(mount)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", str(mount / "facade"))
        real(self, mount)

    monkeypatch.setattr(cgroups.NodeGroups, "_enable_v2", racing)
    groups.ensure("fcd-i1-a", cgroups.Limits(memory=64 << 20, pids=32, cpu_weight=100))
    assert len(calls) == 2
    assert groups.node_groups() == {"fcd-i1-a"}


def test_a_v2_root_that_hands_nothing_down_is_not_used(tmp_path: Path) -> None:
    h = _tree(tmp_path, V2, {"sys/fs/cgroup": ""})
    assert h.where == {}
    assert "not enforced" in h.describe()


# -- port security and a tenant's own network in the plan -----------------------------------------


def test_the_guard_adds_and_removes_per_node_and_reads_back() -> None:
    from facade.dataplane.linux import port_guard

    a = port_guard.Entry(port="fcdv3", mac="02:01:0a:00:01:02", ip="10.0.1.2")
    b = port_guard.Entry(port="fcdv4", mac="02:02:0a:00:02:02", ip="10.0.2.2")
    add = port_guard.add_commands([b, a])
    assert add.splitlines() == [
        'add element bridge fcd_guard ports { "fcdv3", "fcdv4" }',
        'add element bridge fcd_guard addrs { "fcdv3" . 02:01:0a:00:01:02 . 10.0.1.2, '
        '"fcdv4" . 02:02:0a:00:02:02 . 10.0.2.2 }']
    remove = port_guard.remove_commands([a]).splitlines()
    # never fails on a missing element: added first, then deleted
    assert [line.split()[0] for line in remove] == ["add", "add", "delete", "delete"]
    assert port_guard.add_commands([]) == port_guard.remove_commands([]) == ""
    listing = [{"metainfo": {}}, {"set": {"name": "ports", "elem": ["fcdv3"]}},
               {"set": {"name": "addrs", "elem": [{"concat": ["fcdv3", a.mac, a.ip]}]}}]
    assert port_guard.read_entries(listing) == {a}
    # the chain: unguarded ports pass, a guarded one only from its own MAC and address
    decl = port_guard.DECLARATION
    assert "priority -300" in decl and decl.rstrip().endswith("}")
    assert "iifname != @ports accept" in decl and "\n        drop\n" in decl


def _tenant(**seen: object) -> tuple[object, object]:
    from facade.domain.specs import NodeSpec, ObservedNode, PortSpec, SandboxSpec

    spec = NodeSpec(netns="fcd-i1-client", role="instance", ports=(
        PortSpec(host="fcdv1", bridge="fcdb1", ifname="eth0", address="10.0.1.2/24",
                 gateway="10.0.1.1", mac="02:01:0a:00:01:02"),),
        sandbox=SandboxSpec(uid=sandbox.uid_base(1), hostname="client", memory=1 << 29,
                            pids=512, cpu_weight=100))
    base = {"netns": spec.netns, "fingerprint": spec.fingerprint(),
            "addresses": frozenset({("eth0", "10.0.1.2/24")}), "own_network": True,
            "ports": frozenset({"eth0"}), "guarded": True}
    return spec, ObservedNode(**{**base, **seen})  # type: ignore[arg-type]


def _why(spec: object, seen: object) -> list[str]:
    from facade.domain.specs import DesiredState, ObservedState, SubnetSpec
    from facade.reconcile.plan import plan

    state = DesiredState(subnets=(SubnetSpec("fcdb1", "10.0.1.0/24"),), nodes=(spec,))  # type: ignore
    got = plan(state, ObservedState(subnets=frozenset({"fcdb1"}),
                                    nodes={spec.netns: seen}))  # type: ignore[attr-defined]
    return [a.reason for a in got.actions]


def test_what_a_tenant_adds_to_its_own_network_is_not_drift() -> None:
    spec, seen = _tenant()
    assert _why(spec, seen) == []
    # an address of its own on eth0, a dummy interface with one: its business
    _, more = _tenant(addresses=frozenset({("eth0", "10.0.1.2/24"), ("eth0", "10.0.1.99/24"),
                                           ("dummy0", "192.0.2.1/24")}))
    assert _why(spec, more) == []
    # but Facade's own configuration is repaired
    assert _why(spec, _tenant(addresses=frozenset())[1]) == ["interfaces differ"]
    assert _why(spec, _tenant(ports=frozenset({"eth0", "eth1"}))[1]) == ["interfaces differ"]
    assert _why(spec, _tenant(guarded=False)[1]) == ["port security missing"]
    assert _why(spec, _tenant(own_network=False)[1]) == [
        "its network does not belong to its sandbox"]


def test_a_bind_whose_folder_is_not_there_yet_gets_it_empty(tmp_path: Path) -> None:
    """An appliance's folder is written by its reconciler, which may run after its backends'
    nodes are made: bwrap refuses a missing source, and the node's init failed to start."""
    from facade.dataplane.linux.sandbox_view import folder as _folder

    folder = tmp_path / "appliances" / "13"
    assert _folder(folder) == folder and folder.is_dir() and not any(folder.iterdir())
    (folder / "peers.json").write_text("{}")
    assert _folder(folder) == folder and (folder / "peers.json").read_text() == "{}"


# -- limits in a scenario file ---------------------------------------------------------------

SCENARIO = """\
accounts: [{name: acme}, {name: echoco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: echo-vpc, account: echoco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - name: echo
    account: echoco
    workload: http-echo
    port: 80
    backend_subnet: echo-vpc/backend
    management_subnet: echo-vpc/mgmt
    limits: {memory_mb: 96}
instances:
  - name: client
    account: acme
    interfaces: [acme-vpc/app]
    limits:
      pids: 64
      cpu_weight: 200
"""


def test_limits_in_a_scenario_file_parse_with_their_lines() -> None:
    s = parse_scenario(SCENARIO, "s.yaml")
    assert s.services[0].limits == (("memory_mb", 96),)
    assert s.instances[0].limits == (("cpu_weight", 200), ("pids", 64))
    for bad, line, words in ((SCENARIO.replace("pids: 64", "pids: 7"), 19, "pids"),
                             (SCENARIO.replace("cpu_weight: 200", "cpu: 200"), 20, "unknown"),
                             (SCENARIO.replace("limits: {memory_mb: 96}", "limits: 96"), 13,
                              "mapping")):
        try:
            parse_scenario(bad, "s.yaml")
        except Invalid as exc:
            assert exc.where == f"s.yaml:{line}" and words in exc.message, exc
        else:
            raise AssertionError(f"accepted: {words}")


def test_a_specs_fingerprint_is_kept_and_never_seen_as_a_field() -> None:
    """The fingerprint is computed once per (frozen) spec and kept beside its fields: equal
    specs stay equal and hash alike, asdict does not show it, and a changed copy has its own."""
    from dataclasses import asdict, replace

    from facade.domain.specs import NodeSpec, PortSpec, ProcessSpec

    node = NodeSpec("fcd-i1-web", "instance", (PortSpec("fcdv1", "fcdb1", "eth0", "10.0.1.2/24"),))
    first = node.fingerprint()
    twin = NodeSpec("fcd-i1-web", "instance", (PortSpec("fcdv1", "fcdb1", "eth0", "10.0.1.2/24"),))
    assert node.fingerprint() == first == twin.fingerprint()
    assert node == twin and hash(node) == hash(twin) and asdict(node) == asdict(twin)
    moved = replace(node, ports=(PortSpec("fcdv1", "fcdb1", "eth0", "10.0.1.3/24"),))
    assert moved.fingerprint() != first
    proc = ProcessSpec("wl1", "fcd-i1-web", ("sleep", "1"))
    assert proc.fingerprint() == ProcessSpec("wl1", "fcd-i1-web", ("sleep", "1")).fingerprint()
    assert replace(proc, sandboxed=True).fingerprint() != proc.fingerprint()


# -- a launch bwrap gave up on ---------------------------------------------------------------


def _launches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pids: list[int | None]
              ) -> tuple[Any, list[subprocess.Popen[bytes]]]:
    """Sandboxes whose bwrap answers the pids `pids` in turn (None: it gave up before the
    program ran), each launch a real child that has exited; the monitors it made."""
    from facade.dataplane.linux.sandbox import Launched, Sandboxes

    boxes = Sandboxes(tmp_path / "state")
    monitors: list[subprocess.Popen[bytes]] = []
    answers = iter(pids)

    def once(*_args: Any, **_kw: Any) -> Launched:
        monitors.append(subprocess.Popen(["true"]))
        return Launched(monitor=monitors[-1], pid=next(answers))

    monkeypatch.setattr(boxes, "record", lambda netns: object())
    monkeypatch.setattr(boxes, "_launch_once", once)
    return boxes, monitors


def test_a_launch_bwrap_gave_up_on_is_tried_once_more(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """bwrap now and then exits before the program runs ("Unexpected short read from pid
    socket"): nothing ran, so the launch is made again, and the first monitor is reaped."""
    boxes, monitors = _launches(tmp_path, monkeypatch, [None, 4242])
    launched = boxes.launch("fcd-i1-x", ["sleep", "1"], stdin=None, stdout=None, stderr=None,
                            die_with_parent=False)
    assert launched.pid == 4242 and launched.monitor is monitors[1] and len(monitors) == 2
    assert monitors[0].returncode == 0  # collected, not left a zombie
    monitors[1].wait()


def test_a_launch_that_fails_twice_is_reported_not_tried_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boxes, monitors = _launches(tmp_path, monkeypatch, [None, None, 1])
    launched = boxes.launch("fcd-i1-x", ["sleep", "1"], stdin=None, stdout=None, stderr=None,
                            die_with_parent=False)
    assert launched.pid is None and len(monitors) == 2  # the caller says why (its log)
    monitors[1].wait()


def test_what_bwrap_said_is_its_trailing_lines(tmp_path: Path) -> None:
    from facade.dataplane.linux.sandbox import last_line

    log = tmp_path / "x.log"
    log.write_text("started\nbwrap: Can't fork for --pidns: Cannot allocate memory\n"
                   "bwrap: Unexpected short read from pid socket\n")
    assert last_line(log) == ("bwrap: Can't fork for --pidns: Cannot allocate memory; "
                              "bwrap: Unexpected short read from pid socket")
    log.write_text("a program's own last words\n")
    assert last_line(log) == "a program's own last words"
    assert last_line(tmp_path / "none.log") == "no output"
