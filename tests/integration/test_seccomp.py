"""Seccomp filters against the real kernel: the default profile denies what Docker's denies.

Every filter is loaded in a fresh `python -c` child, never in the test process (a filter can
never be removed). The child applies the profile, runs a probe and prints its findings as
JSON; a mount probe targets a private directory, so a filter that failed to deny it would
still not touch the host. The leak guard would catch such a mount left behind.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from berth.runtime.seccomp_default import DOCKER_DEFAULT_CAPS, default_profile

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the probes compare root's powers")

BUSYBOX = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)
ROOT = str(Path(__file__).resolve().parents[2])

# Runs in the child before the probe: load the profile from argv[1], define helpers.
_PRELUDE = """
import ctypes, errno, json, os, socket, subprocess, sys, threading
from berth.runtime.seccomp import apply
from berth.sys.seccomp import resolve_syscall
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(result):
    return 0 if result != -1 else ctypes.get_errno()

def syscall(name, *args):
    return call(libc.syscall(resolve_syscall(name), *[ctypes.c_ulong(a) for a in args]))

apply(json.loads(sys.argv[1]))
out = {}
"""
_POSTLUDE = "\nprint(json.dumps(out))\n"

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
AF_ALG, AF_VSOCK = 38, 40


def probe(profile: dict[str, Any], code: str, *extra: str) -> dict[str, Any]:
    """Apply `profile` in a child python, run `code` there, return its `out` dict."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code + _POSTLUDE, json.dumps(profile), *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return default_profile(DOCKER_DEFAULT_CAPS)


def test_default_profile_denies_namespaces_keyctl_and_mount(
    default: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "m"
    target.mkdir()
    out = probe(
        default,
        f"""
out["unshare_ns"] = call(libc.unshare({CLONE_NEWNS}))
out["unshare_user"] = call(libc.unshare({CLONE_NEWUSER}))
out["keyctl"] = syscall("keyctl", 0, 0, 0, 0, 0)
out["add_key"] = syscall("add_key", 0, 0, 0, 0, 0)
out["mount"] = call(libc.mount(b"none", sys.argv[2].encode(), b"tmpfs", 0, None))
out["clone3"] = syscall("clone3", 0, 0)
out["setns"] = syscall("setns", 0, 0)
out["reboot"] = syscall("reboot", 0, 0, 0, 0)
""",
        str(target),
    )
    assert out == {
        "unshare_ns": errno.EPERM,
        "unshare_user": errno.EPERM,
        "keyctl": errno.EPERM,
        "add_key": errno.EPERM,
        "mount": errno.EPERM,
        "clone3": errno.ENOSYS,  # so libc falls back to clone, whose flags the filter sees
        "setns": errno.EPERM,
        "reboot": errno.EPERM,
    }
    assert not os.path.ismount(target)


@pytest.mark.skipif(BUSYBOX is None, reason="needs busybox")
def test_default_profile_denies_unshare_command(default: dict[str, Any]) -> None:
    out = probe(
        default,
        f"""
done = subprocess.run(["{BUSYBOX}", "unshare", "-U", "true"], capture_output=True, text=True)
out["code"], out["stderr"] = done.returncode, done.stderr
""",
    )
    assert out["code"] != 0
    assert "Operation not permitted" in out["stderr"]


@pytest.mark.skipif(BUSYBOX is None, reason="needs busybox")
def test_default_profile_allows_ordinary_work(default: dict[str, Any], tmp_path: Path) -> None:
    out = probe(
        default,
        f"""
path = os.path.join(sys.argv[2], "f")
with open(path, "w") as f:
    f.write("data")
os.rename(path, path + ".2")
out["file"] = open(path + ".2").read()
out["exec"] = subprocess.run(
    ["{BUSYBOX}", "sh", "-c", "echo ok"], capture_output=True, text=True
).stdout.strip()
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
results = []
thread = threading.Thread(target=lambda: results.append(threading.get_native_id()))
thread.start()
thread.join()
out["thread"] = len(results)
a, b = socket.socketpair(socket.AF_UNIX)
a.sendall(b"x")
out["unix"] = b.recv(1).decode()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen()
client = socket.create_connection(server.getsockname())
conn, _ = server.accept()
client.sendall(b"y")
out["inet"] = conn.recv(1).decode()
out["inet6"] = call(libc.socket(socket.AF_INET6, socket.SOCK_DGRAM, 0)) == 0
out["netlink"] = call(libc.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)) == 0
out["vsock"] = call(libc.socket({AF_VSOCK}, socket.SOCK_STREAM, 0))
out["alg"] = call(libc.socket({AF_ALG}, socket.SOCK_SEQPACKET, 0))
out["personality_query"] = libc.personality(ctypes.c_ulong(0xFFFFFFFF)) != -1
out["personality_set"] = call(libc.personality(ctypes.c_ulong(0x0040000)))
""",
        str(tmp_path),
    )
    assert out == {
        "file": "data",
        "exec": "ok",
        "fork": 7,
        "thread": 1,
        "unix": "x",
        "inet": "y",
        "inet6": True,
        "netlink": True,
        "vsock": errno.EPERM,
        "alg": errno.EPERM,
        "personality_query": True,
        "personality_set": errno.EPERM,  # ADDR_NO_RANDOMIZE is not on the list
    }


def test_cap_sys_admin_unlocks_unshare() -> None:
    profile = default_profile(DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"})
    out = probe(
        profile,
        f"""
out["unshare_ns"] = call(libc.unshare({CLONE_NEWNS}))
out["keyctl"] = syscall("keyctl", 0, 0, 0, 0, 0)
""",
    )
    # The kernel checks capabilities itself; the filter no longer stands in the way.
    # keyctl stays denied: Docker allows it to no capability (keys aren't namespaced).
    assert out == {"unshare_ns": 0, "keyctl": errno.EPERM}


def test_errno_rule_returns_its_errno(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},  # no errnoRet: EPERM
            {"names": ["no_such_syscall_here"], "action": "SCMP_ACT_ERRNO"},  # skipped
        ],
    }
    out = probe(
        profile,
        """
out["mkdir"] = call(libc.mkdir(sys.argv[2].encode(), 0o755))
out["rmdir"] = call(libc.rmdir(sys.argv[2].encode()))
""",
        str(tmp_path / "d"),
    )
    assert out == {"mkdir": errno.EXDEV, "rmdir": errno.EPERM}


def test_argument_comparators() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            # personality: only the query value passes.
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EACCES,
                "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_NE"}],
            },
            # umask: denied when any of the bits 0o007 is clear (masked compare).
            {
                "names": ["umask"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EDOM,
                "args": [{"index": 0, "value": 0o007, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
            },
        ],
    }
    out = probe(
        profile,
        """
out["query"] = libc.personality(ctypes.c_ulong(0xFFFFFFFF)) != -1
out["set"] = call(libc.personality(ctypes.c_ulong(0)))
out["umask_open"] = call(libc.syscall(resolve_syscall("umask"), 0o020))
out["umask_closed"] = call(libc.syscall(resolve_syscall("umask"), 0o027))
""",
    )
    assert out == {"query": True, "set": errno.EACCES, "umask_open": errno.EDOM, "umask_closed": 0}


def test_load_failure_is_a_system_failure() -> None:
    code = (
        "from berth.errors import SystemFailure\n"
        "from berth.runtime.seccomp import apply\n"
        "try:\n"
        "    apply({'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_NOPE']})\n"
        "except SystemFailure as e:\n"
        "    print('refused:', e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert "refused: seccomp: unknown architecture 'SCMP_ARCH_NOPE'" in done.stdout, done.stderr


def test_loading_without_no_new_privs_needs_cap_sys_admin() -> None:
    # The filter is built not to set no_new_privs (setuid programs keep working), so the
    # kernel asks for CAP_SYS_ADMIN: the init must load it before dropping capabilities, or
    # after setting no_new_privs. This pins down the contract the init relies on.
    code = (
        "import ctypes\n"
        "from berth.errors import SystemFailure\n"
        "from berth.runtime.seccomp import apply\n"
        "from berth.sys import process\n"
        "process.capset({0}, {0}, set())\n"
        "profile = {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': []}\n"
        "try:\n"
        "    apply(profile)\n"
        "except SystemFailure as e:\n"
        "    print('refused:', e, '|', e.hint)\n"
        "ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS\n"
        "apply(profile)\n"
        "print('loaded with no_new_privs')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert done.returncode == 0, done.stderr
    refused, loaded = done.stdout.splitlines()
    assert refused.startswith("refused: loading the seccomp filter failed:")
    assert "CAP_SYS_ADMIN" in refused
    assert loaded == "loaded with no_new_privs"


def test_compiled_programs_are_cached(default: dict[str, Any], tmp_path: Path) -> None:
    # Compiling needs no privilege and changes nothing in this process; only loading does.
    from berth.runtime.seccomp import compile_program, prepare

    cache = tmp_path / "cache"
    first = prepare(default, cache)
    (entry,) = cache.iterdir()
    assert entry.suffix == ".bpf" and entry.read_bytes() == first.bpf
    assert first.bpf == compile_program(default).bpf
    entry.write_bytes(first.bpf[:-8])  # a program read from the cache is used as it is
    assert prepare(default, cache).bpf == first.bpf[:-8]
    entry.write_bytes(b"bad")  # a torn file is compiled again
    assert prepare(default, cache).bpf == first.bpf
    other = default_profile(DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"})
    assert prepare(other, cache).bpf != first.bpf
    assert len(list(cache.iterdir())) == 2


def test_cached_program_filters(default: dict[str, Any], tmp_path: Path) -> None:
    code = f"""
from pathlib import Path
from berth.runtime.seccomp import prepare
prepare(json.loads(sys.argv[3]), Path(sys.argv[2])).load()
out["unshare_ns"] = call(libc.unshare({CLONE_NEWNS}))
out["getpid"] = call(libc.getpid())
"""
    cache = str(tmp_path / "cache")
    # The prelude applies an allow-all profile; the cached default filter is stacked on it.
    allow_all = {"defaultAction": "SCMP_ACT_ALLOW"}
    for _ in range(2):  # compiled and stored, then read back
        out = probe(allow_all, code, cache, json.dumps(default))
        assert out == {"unshare_ns": errno.EPERM, "getpid": 0}
    assert len(os.listdir(cache)) == 1
