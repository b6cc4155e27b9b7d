"""The seccomp filter of every tenant sandbox, compiled by libseccomp (through ctypes).

Default allow, with a deny list in the spirit of Docker's default profile: a tenant is root in
its own user namespace, and these calls would let it reach past the namespaces that make its
node (mounts, new namespaces, joining another namespace), into the kernel itself (modules, kexec,
BPF, perf, keyrings) or into the host's clock and swap. Each answers EPERM, except clone3, which
answers ENOSYS so that the C library falls back to clone(2), whose flags can be inspected (clone3
passes them in memory, where a filter cannot look). clone and unshare are refused only when
asked for a new namespace. Calls of a foreign ABI (i386, x32) kill the process: libseccomp
matches the native architecture only.

`compile_filter()` returns the classic BPF program that bubblewrap loads with `--seccomp FD`;
it is the same for every sandbox, so the driver compiles it once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import tempfile

# sched.h
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                   CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME)

# seccomp.h
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7


def scmp_act_errno(code: int) -> int:
    return 0x00050000 | (code & 0x0000FFFF)


# Refused outright (EPERM). Names unknown to this libseccomp are skipped.
DENIED = (
    # file systems and the mount tree
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "quotactl", "quotactl_fd",
    # other namespaces
    "setns",
    # the kernel itself
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "bpf", "perf_event_open", "lookup_dcookie", "syslog", "iopl", "ioperm", "uselib",
    "reboot", "swapon", "swapoff", "acct",
    # keyrings are not namespaced
    "keyctl", "add_key", "request_key",
    # the host's clock
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    # file handles bypass the mount tree; userfaultfd and io_uring are kernel attack surface
    "open_by_handle_at", "name_to_handle_at", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
# Refused when any namespace flag is set in their first argument.
NAMESPACE_GATED = ("clone", "unshare")


class SeccompError(RuntimeError):
    """libseccomp is missing or refused the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp")
    if name is None:
        raise SeccompError("libseccomp is not installed (Debian package libseccomp2)")
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise SeccompError(f"libseccomp {what}: {os.strerror(-rc)}")


def compile_filter() -> bytes:
    """The filter as a classic BPF program (struct sock_filter[]), ready for bwrap."""
    lib = _lib()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompError("libseccomp seccomp_init failed")
    try:
        def rule(action: int, name: str, cmps: list[_ArgCmp] | None = None) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a call of this architecture (or too new for this libseccomp)
            arr = (_ArgCmp * len(cmps))(*cmps) if cmps else None
            _check(lib.seccomp_rule_add_array(ctx, action, nr, len(cmps or []), arr),
                   f"rule for {name}")

        for name in DENIED:
            rule(scmp_act_errno(errno.EPERM), name)
        for name in NAMESPACE_GATED:
            for flag in NAMESPACE_FLAGS:
                rule(scmp_act_errno(errno.EPERM), name,
                     [_ArgCmp(0, SCMP_CMP_MASKED_EQ, flag, flag)])
        rule(scmp_act_errno(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as fh:
            _check(lib.seccomp_export_bpf(ctx, fh.fileno()), "export")
            fh.seek(0)
            program = fh.read()
    finally:
        lib.seccomp_release(ctx)
    if not program or len(program) % 8:
        raise SeccompError(f"libseccomp exported {len(program)} bytes, not a BPF program")
    return program
