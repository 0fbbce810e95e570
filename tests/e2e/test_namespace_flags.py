"""Namespaces, devices, kernel parameters and users, seen from inside real containers: --ipc,
--pid, --uts, --userns, --cgroupns, --device, --privileged's /dev, --sysctl, --shm-size,
--group-add, -u's supplementary groups, exec -u/--privileged/--env-file,
--memory-swappiness and --oom-kill-disable; each stored in HostConfig as dockerd stores it.

The tests run in a network namespace of their own; the PID, IPC and UTS namespaces are the
machine's, so `--pid host` is checked by reading (never signalling) the machine's processes.
The expected values come from Docker 20.10 run on this machine with the same flags.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from tests.fixtures.api import ApiServer
from tests.fixtures.store import Berth, Store

ALL_BUT_SYS_RESOURCE = (1 << 41) - 1 & ~(1 << 24)  # every capability root holds here
USERS = (
    "echo 'alice:x:1000:1000::/home/alice:/bin/sh' >> /etc/passwd;"
    " printf 'wheel:x:10:root,alice\\naudio:x:29:alice\\nalice:x:1000:\\n' >> /etc/group"
)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 125, (result.stdout, result.stderr)
    assert message in result.stderr, result.stderr


def _host_config(berth: Berth, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_ok(berth("inspect", name)))[0]["HostConfig"]
    return document


def _namespace(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


def _cgroup_v1() -> bool:
    from berth.cgroups import detect

    return detect().version == 1


def _users_image(berth: Berth, busybox: str) -> str:
    """busybox with alice (uid 1000) in the groups wheel and audio, root in wheel."""
    _ok(berth("run", "--name", "users-src", busybox, "sh", "-c", USERS))
    _ok(berth("commit", "users-src", "users:1"))
    _ok(berth("rm", "users-src"))
    return "users:1"


def test_user_and_group_add_set_groups_as_docker(berth: Berth, busybox: str) -> None:
    """`id` in each case prints what Docker's prints: the primary group listed, the image's
    groups of the user only when no group is named, --group-add's by name or number."""
    image = _users_image(berth, busybox)
    expected = {
        (): "uid=0(root) gid=0(root) groups=0(root),10(wheel)",
        ("-u", "alice"): "uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio),1000(alice)",
        ("-u", "1000"): "uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio),1000(alice)",
        ("-u", "alice:audio"): "uid=1000(alice) gid=29(audio) groups=29(audio)",
        ("-u", "0:10", "--group-add", "29"): "uid=0(root) gid=10(wheel) groups=10(wheel),29(audio)",
        ("-u", "4242"): "uid=4242 gid=0(root) groups=0(root)",
        ("-u", "alice", "--group-add", "audio", "--group-add", "55"): (
            "uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio),55,1000(alice)"
        ),
    }
    for flags, line in expected.items():
        assert _ok(berth("run", "--rm", *flags, image, "id")).strip() == line, flags
    missing = berth("run", "--rm", "--group-add", "nosuch", image, "id")
    _refused(missing, "Unable to find group nosuch: no matching entries in group file")

    # exec: the container's --group-add too; --privileged: every capability; --env-file.
    _ok(berth("run", "-d", "--name", "box", "--group-add", "55", image, "sleep", "60"))
    assert _ok(berth("exec", "box", "id")).strip() == (
        "uid=0(root) gid=0(root) groups=0(root),10(wheel),55"
    )
    assert _ok(berth("exec", "-u", "alice", "box", "id")).strip() == (
        "uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio),55,1000(alice)"
    )
    assert _ok(berth("exec", "-u", "0:29", "box", "id")).strip() == (
        "uid=0(root) gid=29(audio) groups=29(audio),55"
    )
    script = "grep CapEff /proc/self/status"
    plain = int(_ok(berth("exec", "box", "sh", "-c", script)).split()[1], 16)
    privileged = int(_ok(berth("exec", "--privileged", "box", "sh", "-c", script)).split()[1], 16)
    assert plain == 0xA80425FB  # Docker's 14 default capabilities
    assert privileged & ALL_BUT_SYS_RESOURCE == ALL_BUT_SYS_RESOURCE
    env_file = berth.store.mountpoint / "exec.env"
    env_file.write_text("A=from file\n# a comment\nB=2\n")
    shown = berth("exec", "--env-file", str(env_file), "-e", "B=3", "box", "sh", "-c", "echo $A $B")
    assert _ok(shown) == "from file 3\n"
    _ok(berth("rm", "-f", "box"))


def test_ipc_modes(berth: Berth, busybox: str, store: Store) -> None:
    """A shareable IPC namespace is joined with its /dev/shm (its message queues and IPC
    sysctls are the joiner's too); a private one can't be joined, a stopped one neither;
    `host` is the machine's; `none` has no /dev/shm."""
    script = "touch /dev/mqueue/q; echo shared > /dev/shm/f; sleep 60"
    donor_id = _ok(
        berth(
            "run",
            "-d",
            "--name",
            "donor",
            "--ipc",
            "shareable",
            "--sysctl",
            "kernel.msgmax=12345",
            busybox,
            "sh",
            "-c",
            script,
        )
    ).strip()
    look = "ls /dev/mqueue; cat /dev/shm/f /proc/sys/kernel/msgmax; readlink /proc/self/ns/ipc"
    for _ in range(50):  # the donor's script may not have run yet
        joined = _ok(berth("run", "--rm", "--ipc", "container:donor", busybox, "sh", "-c", look))
        if joined.startswith("q\n"):
            break
    assert joined.splitlines()[:3] == ["q", "shared", "12345"], joined
    assert (
        joined.splitlines()[3] == _ok(berth("exec", "donor", "readlink", "/proc/self/ns/ipc"))[:-1]
    )
    private = _ok(
        berth("run", "--rm", busybox, "sh", "-c", "ls /dev/mqueue; cat /proc/sys/kernel/msgmax")
    )
    assert private.split() == ["8192"]
    _ok(berth("create", "--name", "joiner", "--ipc", "container:donor", busybox, "true"))
    assert _host_config(berth, "joiner")["IpcMode"] == f"container:{donor_id}"
    assert _host_config(berth, "donor")["IpcMode"] == "shareable"
    shm = store.root / "containers" / donor_id / "shm"
    assert os.path.ismount(shm)
    _ok(berth("stop", "-t", "0", "donor"))
    assert not os.path.ismount(shm)  # unmounted by the monitor once the donor is done
    stopped = berth("start", "-a", "joiner")
    assert f"container {donor_id} is not running" in stopped.stderr, stopped.stderr

    _ok(berth("run", "-d", "--name", "closed", busybox, "sleep", "60"))
    assert _host_config(berth, "closed")["IpcMode"] == "private"  # dockerd's default
    closed = berth("run", "--rm", "--ipc", "container:closed", busybox, "true")
    _refused(closed, "non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
    _refused(berth("run", "--rm", "--ipc", "container:nosuch", busybox, "true"), "nosuch")
    _refused(berth("run", "--rm", "--ipc", "elsewhere", busybox, "true"), "Invalid IPC mode")

    host = _ok(berth("run", "--rm", "--ipc", "host", busybox, "readlink", "/proc/self/ns/ipc"))
    assert host.strip() == _namespace("ipc")
    none = berth("run", "--rm", "--ipc", "none", busybox, "ls", "/dev/shm")
    assert none.returncode != 0 and "No such file" in none.stderr
    for name in ("joiner", "closed", "donor"):
        _ok(berth("rm", "-f", name))


def test_pid_uts_userns_and_cgroupns(berth: Berth, busybox: str) -> None:
    pid_host = _ok(
        berth(
            "run",
            "--rm",
            "--pid",
            "host",
            busybox,
            "sh",
            "-c",
            f"readlink /proc/self/ns/pid; test -d /proc/{os.getpid()} && echo sees-the-test",
        )
    )
    assert pid_host.split() == [_namespace("pid"), "sees-the-test"]

    _ok(berth("run", "-d", "--name", "target", busybox, "sleep", "61"))
    shared = _ok(berth("run", "--rm", "--pid", "container:target", busybox, "ps", "-o", "args"))
    assert "sleep 61" in shared
    _ok(berth("stop", "-t", "0", "target"))
    target_id = _ok(berth("inspect", "-f", "{{.Id}}", "target")).strip()
    stopped = berth("run", "--rm", "--pid", "container:target", busybox, "true")
    _refused(stopped, f"container {target_id} is not running")
    _refused(berth("run", "--rm", "--pid", "elsewhere", busybox, "true"), "--pid: invalid PID mode")

    uts = _ok(
        berth("run", "--rm", "--uts", "host", busybox, "sh", "-c", "hostname; cat /etc/hostname")
    )
    assert uts.split()[0] == socket.gethostname()
    assert uts.split()[1] != socket.gethostname()  # /etc/hostname stays the container's
    _refused(
        berth("run", "--rm", "--uts", "host", "-h", "x", busybox, "true"),
        "hostname and the UTS mode",
    )
    _refused(berth("run", "--rm", "--uts", "private", busybox, "true"), "--uts: invalid UTS mode")

    _ok(berth("run", "--rm", "--userns", "host", busybox, "true"))
    _refused(
        berth("run", "--rm", "--userns", "private", busybox, "true"), "--userns: invalid USER mode"
    )

    # dockerd's default: the host's cgroup namespace on v1, a private one on v2.
    look = "readlink /proc/self/ns/cgroup; cut -d: -f3 /proc/self/cgroup | sort -u"
    _ok(berth("run", "--name", "default-ns", busybox, "sh", "-c", look))
    default = _ok(berth("logs", "default-ns")).split()
    v1 = _cgroup_v1()
    assert _host_config(berth, "default-ns")["CgroupnsMode"] == ("host" if v1 else "private")
    assert (default[0] == _namespace("cgroup")) == v1
    private = _ok(berth("run", "--rm", "--cgroupns", "private", busybox, "sh", "-c", look)).split()
    assert private == [private[0], "/"] and private[0] != _namespace("cgroup")
    host = _ok(berth("run", "--rm", "--cgroupns", "host", busybox, "sh", "-c", look)).split()
    assert host[0] == _namespace("cgroup") and host[1:] != ["/"]  # its own cgroup's path
    _refused(
        berth("run", "--rm", "--cgroupns", "x", busybox, "true"), "--cgroupns: invalid CGROUP mode"
    )
    for name in ("target", "default-ns"):
        _ok(berth("rm", "-f", name))


def test_devices_and_privileged_dev(berth: Berth, busybox: str) -> None:
    """--device makes a working node (under another name if asked); a node the container
    makes itself for the same device can't be opened; --privileged has the host's /dev."""
    script = "stat -c %t,%T /dev/mynull; echo x > /dev/mynull && echo written"
    mapped = berth(
        "run", "--name", "dev", "--device", "/dev/null:/dev/mynull:rw", busybox, "sh", "-c", script
    )
    assert _ok(mapped).split() == ["1,3", "written"]
    assert _host_config(berth, "dev")["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}
    ]
    missing = berth("run", "--rm", "--device", "/dev/nosuch", busybox, "true")
    _refused(missing, 'error gathering device information while adding custom device "/dev/nosuch"')
    _refused(berth("run", "--rm", "--device", "/etc/passwd", busybox, "true"), "not a device node")
    _refused(
        berth("run", "--rm", "--device", "/dev/null:x", busybox, "true"),
        "x is not an absolute path",
    )
    _refused(
        berth("run", "--rm", "--device", "/dev/null:/x:rwz", busybox, "true"),
        "bad mode specified: rwz",
    )

    extra = Path("/dev/loop-control")  # harmless to open: nothing happens without an ioctl
    if not extra.is_char_device():
        pytest.skip("this host has no /dev/loop-control")
    numbers = f"{os.major(extra.stat().st_rdev)} {os.minor(extra.stat().st_rdev)}"
    made = (
        f"mknod /tmp/node c {numbers} && (exec 3</tmp/node) 2>/dev/null && echo open || echo denied"
    )
    assert _ok(berth("run", "--rm", busybox, "sh", "-c", made)).strip() == "denied"
    given = "(exec 3</dev/loop-control) && echo open"
    assert (
        _ok(berth("run", "--rm", "--device", str(extra), busybox, "sh", "-c", given)).strip()
        == "open"
    )
    listing = "ls /dev"
    plain = set(_ok(berth("run", "--rm", busybox, "sh", "-c", listing)).split())
    privileged = set(
        _ok(berth("run", "--rm", "--privileged", busybox, "sh", "-c", listing)).split()
    )
    assert "loop-control" in privileged and "loop-control" not in plain
    assert {"null", "zero", "tty", "ptmx", "pts", "shm"} <= privileged
    _ok(berth("rm", "-f", "dev"))


def test_sysctls_and_shm_size(berth: Berth, busybox: str) -> None:
    script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; df -k /dev/shm | tail -1"
    tuned = berth("run", "--name", "tuned", "--sysctl", "net.ipv4.ip_forward=1",
                  "--sysctl", "kernel.shmmax=1000000", "--shm-size", "1m",
                  busybox, "sh", "-c", script)  # fmt: skip
    lines = _ok(tuned).splitlines()
    assert lines[:2] == ["1", "1000000"] and lines[2].split()[1] == "1024"
    document = _host_config(berth, "tuned")
    assert document["Sysctls"] == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"}
    assert document["ShmSize"] == 1024 * 1024
    default = _ok(berth("run", "--rm", busybox, "sh", "-c", "df -k /dev/shm | tail -1"))
    assert default.split()[1] == "65536"  # Docker's 64 MiB

    refused = berth("run", "--rm", "--sysctl", "kernel.hostname=x", busybox, "true")
    _refused(refused, "sysctl 'kernel.hostname=x' is not whitelisted")
    on_host = berth(
        "run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", busybox, "true"
    )
    _refused(on_host, 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace')
    unknown = berth("run", "--rm", "--sysctl", "net.ipv4.nosuch=1", busybox, "true")
    _refused(unknown, "open /proc/sys/net/ipv4/nosuch: no such file or directory")
    # Nor through a container that has the host's namespaces (refused before any write).
    _ok(berth("run", "-d", "--name", "on-host", "--network", "host", "--ipc", "host",
              busybox, "sleep", "60"))  # fmt: skip
    via_network = berth("run", "--rm", "--network", "container:on-host",
                        "--sysctl", "net.ipv4.ip_forward=1", busybox, "true")  # fmt: skip
    _refused(via_network, 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace')
    via_ipc = berth("run", "--rm", "--ipc", "container:on-host",
                    "--sysctl", "kernel.msgmax=9000", busybox, "true")  # fmt: skip
    _refused(via_ipc, 'sysctl "kernel.msgmax" is not allowed in the hosts ipc namespace')
    for name in ("tuned", "on-host"):
        _ok(berth("rm", "-f", name))


def test_memory_swappiness_and_oom_kill_disable(berth: Berth, busybox: str) -> None:
    if not _cgroup_v1():
        pytest.skip("memory.swappiness and memory.oom_control are cgroup v1 files")
    script = "cat /sys/fs/cgroup/memory/memory.swappiness /sys/fs/cgroup/memory/memory.oom_control"
    shown = berth("run", "--name", "mem", "-m", "64m", "--memory-swappiness", "10",
                  "--oom-kill-disable", busybox, "sh", "-c", script)  # fmt: skip
    assert _ok(shown).splitlines()[:2] == ["10", "oom_kill_disable 1"]
    document = _host_config(berth, "mem")
    assert (document["MemorySwappiness"], document["OomKillDisable"]) == (10, True)
    plain = _host_config(berth, _ok(berth("create", busybox, "true")).strip())
    assert (plain["MemorySwappiness"], plain["OomKillDisable"]) == (None, False)
    too_much = berth("run", "--rm", "--memory-swappiness", "101", busybox, "true")
    _refused(too_much, "Valid memory swappiness range is 0-100")


def test_the_api_takes_the_same_documents(api: ApiServer, busybox: str) -> None:
    """The docker CLI's HostConfig for these flags, and docker-py's privileged exec."""
    script = "cat /proc/sys/net/ipv4/ip_forward; df -k /dev/shm | tail -1; id; test -c /dev/mynull"
    run = api.docker("run", "--name", "api-box", "--sysctl", "net.ipv4.ip_forward=1",
                     "--shm-size", "2m", "--group-add", "55", "--ipc", "shareable",
                     "--device", "/dev/null:/dev/mynull", busybox, "sh", "-c", script)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "1" and lines[1].split()[1] == "2048"
    assert lines[2] == "uid=0(root) gid=0(root) groups=0(root),55"
    bad = api.docker(
        "run", "--rm", "--userns", "host", "--pid", "container:nosuch", busybox, "true"
    )
    assert bad.returncode != 0 and "nosuch" in bad.stderr
    client = api.client()
    try:
        box = client.containers.run(busybox, ["sleep", "60"], detach=True, group_add=["7"])
        code, output = box.exec_run(["grep", "CapEff", "/proc/self/status"], privileged=True)
        assert (
            code == 0 and int(output.split()[1], 16) & ALL_BUT_SYS_RESOURCE == ALL_BUT_SYS_RESOURCE
        )
        assert box.attrs["HostConfig"]["IpcMode"] == "private"
        with pytest.raises(docker.errors.APIError, match="not whitelisted"):
            client.containers.create(busybox, ["true"], sysctls={"kernel.hostname": "x"})
        box.remove(force=True)
    finally:
        client.close()
