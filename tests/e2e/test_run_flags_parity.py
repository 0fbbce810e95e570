"""Docker parity of the run flags for networks, logs and files (issue 15, part C): DNS
settings, a static address, legacy links, the host's name with host networking, the log
drivers and rotation, --cidfile, --label-file, -a, --volumes-from, -v sources that are
relative or missing, inspect's HostConfig with dockerd's defaults, a published port in
TIME_WAIT, the read-only /etc files, tmpfs options, /etc/mtab and `cp` of /etc/hostname.

Real containers in the namespace that plays the host (`host_ns`); what Docker does was
checked against a dockerd 20.10 (and the docker 28 CLI) where noted. Each test removes what
it made (the `busybox` fixture removes containers left by a failure).
"""

from __future__ import annotations

import json
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.netns import HostNamespace
from tests.fixtures.store import Berth

# The HostConfig keys of a dockerd 20.10's `docker inspect` of a plain container.
DOCKER_2010_HOST_CONFIG_KEYS = {
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
    "AutoRemove", "VolumeDriver", "VolumesFrom", "CapAdd", "CapDrop", "CgroupnsMode", "Dns",
    "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links",
    "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt",
    "UTSMode", "UsernsMode", "ShmSize", "Runtime", "ConsoleSize", "Isolation", "CpuShares",
    "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "BlkioWeightDevice",
    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus",
    "CpusetMems", "Devices", "DeviceCgroupRules", "DeviceRequests", "KernelMemory",
    "KernelMemoryTCP", "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable",
    "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
    "MaskedPaths", "ReadonlyPaths",
}  # fmt: skip
UPSTREAM_ANSWER = "203.0.113.7"
# A DNS server of one name for the resolver to forward to: A upstream.test -> UPSTREAM_ANSWER,
# any other question an empty NOERROR.
FAKE_DNS = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end]:
        end += q[end] + 1
    name = q[12:end]
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
    ours = qtype == 1 and name == b"\x08upstream\x04test"
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 7])
    header = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if ours else 0, 0, 0)
    s.sendto(header + q[12:end + 5] + (answer if ours else b""), peer)
"""


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _fails(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def _inspect(berth: Berth, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_ok(berth("inspect", name)))[0]
    return document


def _eventually(check: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture
def fake_dns(host_ns: HostNamespace) -> Iterator[str]:
    """A DNS server on the host's address (in the namespace that plays the host)."""
    server = subprocess.Popen(
        [*host_ns.prefix, "python3", "-c", FAKE_DNS, host_ns.address],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        yield host_ns.address
    finally:
        server.kill()
        server.wait()


# -- DNS -------------------------------------------------------------------------------------


def test_dns_flags_on_the_default_bridge(berth: Berth, busybox: str) -> None:
    """Docker 20.10: each flag replaces its part of the host's resolv.conf."""
    text = _ok(
        berth(
            "run", "--rm", "--name", "dns", "--dns", "9.9.9.9", "--dns", "1.1.1.1",
            "--dns-search", "a.example", "--dns-option", "ndots:3", "--dns-option", "timeout:2",
            busybox, "cat", "/etc/resolv.conf",
        )
    )  # fmt: skip
    assert text == (
        "search a.example\nnameserver 9.9.9.9\nnameserver 1.1.1.1\noptions ndots:3 timeout:2\n"
    )
    created = _ok(berth("create", "--dns", "9.9.9.9", "--dns-search", ".", busybox)).strip()
    host_config = _inspect(berth, created)["HostConfig"]
    assert (host_config["Dns"], host_config["DnsSearch"], host_config["DnsOptions"]) == (
        ["9.9.9.9"],
        ["."],
        [],
    )
    assert _inspect(berth, _ok(berth("create", busybox)).strip())["HostConfig"]["Dns"] == []
    _fails(berth("run", "--rm", "--dns", "not-an-ip", busybox), 125, "not correctly formatted")
    _fails(berth("run", "--rm", "--dns-option", "a b", busybox), 125, "invalid DNS option")


def test_dns_flags_on_a_user_network_keep_the_resolver_which_forwards_to_them(
    berth: Berth, busybox: str, fake_dns: str
) -> None:
    """Docker: 127.0.0.11 stays the nameserver and forwards to --dns; ndots:0 unless given."""
    _ok(berth("network", "create", "apps"))
    script = "cat /etc/resolv.conf; nslookup upstream.test"
    out = _ok(
        berth(
            "run", "--rm", "--network", "apps", "--dns", fake_dns, "--dns-search", "x.example",
            "--dns-option", "timeout:2", busybox, "sh", "-c", script,
        )
    )  # fmt: skip
    assert out.startswith("search x.example\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n")
    assert f"Address: {UPSTREAM_ANSWER}" in out  # answered by the --dns server
    own = _ok(berth("run", "--rm", "--network", "apps", "--dns-option", "ndots:2", busybox, "cat",
                    "/etc/resolv.conf"))  # fmt: skip
    assert own.splitlines()[-2:] == ["nameserver 127.0.0.11", "options ndots:2"]


# -- --ip ------------------------------------------------------------------------------------


def test_ip_on_a_network_with_a_chosen_subnet(berth: Berth, busybox: str) -> None:
    _ok(berth("network", "create", "--subnet", "10.77.0.0/24", "fixed"))
    _ok(berth("network", "create", "auto"))
    _ok(berth("run", "-d", "--name", "pinned", "--network", "fixed", "--ip", "10.77.0.50",
              busybox, "sleep", "60"))  # fmt: skip
    shown = _ok(berth("exec", "pinned", "ip", "-4", "-o", "addr", "show", "eth0"))
    assert "inet 10.77.0.50/24" in shown
    networks = _inspect(berth, "pinned")["NetworkSettings"]["Networks"]
    assert networks["fixed"]["IPAMConfig"] == {"IPv4Address": "10.77.0.50"}
    assert networks["fixed"]["IPAddress"] == "10.77.0.50"
    # Another container that asked for no address is not given it either way.
    other = _ok(berth("run", "--rm", "--network", "fixed", busybox, "ip", "-4", "-o", "addr",
                      "show", "eth0"))  # fmt: skip
    assert "10.77.0.50/" not in other
    # The same address again: created, but its start fails (Docker's order).
    twice = berth("run", "--rm", "--network", "fixed", "--ip", "10.77.0.50", busybox, "true")
    _fails(twice, 125, "Address already in use")
    _fails(berth("create", "--ip", "10.77.0.9", busybox), 125, "user defined networks only")
    _fails(berth("create", "--network", "none", "--ip", "10.77.0.9", busybox), 125,
           "user defined networks only")  # fmt: skip
    _fails(berth("create", "--network", "auto", "--ip", "172.30.0.9", busybox), 125,
           "user configured subnets")  # fmt: skip
    _fails(berth("create", "--network", "fixed", "--ip", "10.66.0.5", busybox), 125,
           "does not belong to any of this network's subnets")  # fmt: skip
    _fails(berth("create", "--network", "fixed", "--ip", "bad", busybox), 125,
           "invalid IPv4 address: bad")  # fmt: skip
    _ok(berth("rm", "-f", "pinned"))


# -- --link ----------------------------------------------------------------------------------


def test_link_on_the_default_bridge_gives_hosts_entries_and_environment(
    berth: Berth, busybox: str
) -> None:
    _ok(berth("run", "-d", "--name", "db", "-h", "dbhost", "-e", "SECRET=s3", "--expose", "5432",
              "--expose", "5433", busybox, "sleep", "60"))  # fmt: skip
    address = _inspect(berth, "db")["NetworkSettings"]["IPAddress"]
    out = _ok(berth("run", "--rm", "--name", "web", "-h", "webhost", "--link", "db:database",
                    busybox, "sh", "-c", "cat /etc/hosts; env | sort"))  # fmt: skip
    lines = out.splitlines()
    own = next(n for n, line in enumerate(lines) if line.endswith("\twebhost"))
    assert f"{address}\tdatabase dbhost db" in lines[:own]  # Docker's order: links, then own
    env = {line.partition("=")[0]: line.partition("=")[2] for line in lines if "=" in line}
    assert env["DATABASE_PORT"] == f"tcp://{address}:5432"
    assert env["DATABASE_PORT_5432_TCP"] == f"tcp://{address}:5432"
    assert env["DATABASE_PORT_5432_TCP_ADDR"] == address
    assert env["DATABASE_PORT_5433_TCP_PORT"] == "5433"
    assert env["DATABASE_PORT_5432_TCP_PROTO"] == "tcp"
    assert env["DATABASE_PORT_5432_TCP_START"] == f"tcp://{address}:5432"
    assert env["DATABASE_PORT_5432_TCP_PORT_END"] == "5433"
    assert env["DATABASE_NAME"] == "/web/database"
    assert env["DATABASE_ENV_SECRET"] == "s3"
    assert "DATABASE_ENV_PATH" not in env
    # The alias may be left out: the name is the alias, listed once.
    plain = _ok(berth("run", "--rm", "--link", "db", busybox, "grep", "-w", "db", "/etc/hosts"))
    assert plain == f"{address}\tdb dbhost\n"
    created = _ok(berth("create", "--name", "linker", "--link", "db:database", busybox))
    assert _inspect(berth, created.strip())["HostConfig"]["Links"] == ["/db:/linker/database"]
    _fails(berth("create", "--link", "nope:x", busybox), 125, "could not get container for nope")
    _fails(berth("create", "--network", "host", "--link", "db", busybox), 125,
           "host type networking can't be used with links")  # fmt: skip
    _ok(berth("stop", "-t", "0", "db"))
    _fails(berth("start", "linker"), 1, "Cannot link to a non running container: /db AS "
           "/linker/database")  # fmt: skip
    _ok(berth("rm", "-f", "linker", "db"))


def test_link_on_a_user_network_is_an_alias_of_the_resolver(berth: Berth, busybox: str) -> None:
    """Docker's endpoint links: the alias resolves for the linking container only."""
    _ok(berth("network", "create", "apps"))
    _ok(berth("run", "-d", "--name", "db", "--network", "apps", busybox, "sleep", "60"))
    address = _inspect(berth, "db")["NetworkSettings"]["Networks"]["apps"]["IPAddress"]
    found = _ok(berth("run", "--rm", "--network", "apps", "--link", "db:store", busybox,
                      "nslookup", "store"))  # fmt: skip
    assert f"Address: {address}" in found
    unlinked = berth("run", "--rm", "--network", "apps", busybox, "nslookup", "store")
    assert f"Address: {address}" not in unlinked.stdout
    _ok(berth("rm", "-f", "db"))


# -- host networking -------------------------------------------------------------------------


def test_host_networking_keeps_the_hosts_name(berth: Berth, busybox: str) -> None:
    """Docker: the host's name and /etc/hosts; -h still names the container (20.10)."""
    host = socket.gethostname()
    out = _ok(berth("run", "--rm", "--name", "onhost", "--network", "host", busybox, "sh", "-c",
                    "hostname; cat /etc/hostname; echo $HOSTNAME; cat /etc/hosts"))  # fmt: skip
    assert out == f"{host}\n{host}\n{host}\n" + Path("/etc/hosts").read_text()
    named = _ok(berth("run", "--rm", "--network", "host", "-h", "given", busybox, "hostname"))
    assert named == "given\n"
    _fails(berth("create", "--network", "container:x", "-h", "x", busybox), 125,
           "Conflicting options: hostname and the network mode")  # fmt: skip


# -- logs ------------------------------------------------------------------------------------

CHATTY = (
    "i=0; while [ $i -lt 3000 ]; do echo line-$i-some-padding-to-make-it-longer; i=$((i+1)); done"
)


def test_log_rotation_keeps_the_last_files_and_logs_reads_across_them(
    berth: Berth, busybox: str
) -> None:
    """Docker's exact rotation, as berth's monitor does it, in its write path (conmon's
    rotation is the supervisor's, a look every 20 ms: tests/e2e/test_conmon_monitor.py)."""
    rotation = ["--log-opt", "max-size=10k", "--log-opt", "max-file=3"]
    own_monitor = {"BERTH_MONITOR": "berth"}
    container = _ok(berth("run", "-d", *rotation, busybox, "sh", "-c", CHATTY, env=own_monitor))
    container = container.strip()
    assert _ok(berth("wait", container)) == "0\n"
    log = Path(_inspect(berth, container)["LogPath"])
    names = sorted(p.name for p in log.parent.iterdir() if p.name.startswith(log.name))
    assert names == [log.name, f"{log.name}.1", f"{log.name}.2", f"{log.name}.base"]
    kept = sum(log.parent.joinpath(name).stat().st_size for name in names[:3])
    assert kept < 3 * (10_000 + 100)  # a file passes the limit by less than a record
    assert log.with_name(f"{log.name}.1").stat().st_size >= 10_000
    lines = _ok(berth("logs", container)).splitlines()
    numbers = [int(line.split("-")[1]) for line in lines]
    assert numbers[-1] == 2999 and 100 < len(numbers) < 3000
    assert numbers == list(range(numbers[0], 3000))  # whole, in order, over the three files
    tail = _ok(berth("logs", "--tail", "3", container)).splitlines()
    assert [int(line.split("-")[1]) for line in tail] == [2997, 2998, 2999]
    _ok(berth("rm", container))


def test_logs_follow_through_rotations(berth: Berth, busybox: str) -> None:
    """A follower keeps up with a log that rotates every tenth of a second or so."""
    script = (
        "sleep 1; i=0; while [ $i -lt 1500 ]; do echo line-$i-some-padding-to-make-it-longer;"
        " i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.1; done; true"
    )
    _ok(berth("run", "-d", "--name", "ticker", "--log-opt", "max-size=20k", "--log-opt",
              "max-file=2", busybox, "sh", "-c", script))  # fmt: skip
    follower = berth.popen("logs", "-f", "ticker")
    try:
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
        follower.wait()
    numbers = [int(line.split("-")[1]) for line in out.splitlines()]
    assert numbers == list(range(1500)), err
    _ok(berth("rm", "ticker"))


def test_log_drivers_none_and_local(berth: Berth, busybox: str) -> None:
    quiet = berth("run", "--name", "quiet", "--log-driver", "none", busybox, "echo", "hi")
    assert _ok(quiet) == "hi\n"  # attached output still comes through
    _fails(berth("logs", "quiet"), 1, "configured logging driver does not support reading")
    document = _inspect(berth, "quiet")
    assert document["LogPath"] == ""
    assert document["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    directory = Path(document["HostnamePath"]).parent
    assert not any(p.name.endswith("-json.log") for p in directory.iterdir())
    local = _ok(berth("run", "--name", "local", "--log-driver", "local", busybox, "echo", "kept"))
    assert local == "kept\n" and _ok(berth("logs", "local")) == "kept\n"
    assert _inspect(berth, "local")["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {}}
    plain = _inspect(berth, _ok(berth("create", busybox)).strip())
    assert plain["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert plain["LogPath"].endswith("-json.log")
    _fails(berth("create", "--log-driver", "none", "--log-opt", "max-size=1m", busybox), 125,
           "invalid logging opts for driver none")  # fmt: skip
    for options, words in (
        (["--log-opt", "foo=1"], "unknown log opt 'foo' for json-file log driver"),
        (["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
        (["--log-opt", "max-size=1k", "--log-opt", "max-file=0"], "max-file cannot be less"),
        (["--log-driver", "bogus"], 'plugin "bogus" not found'),
        (["--log-driver", "local", "--log-opt", "foo=1"], "unknown log opt 'foo' for log driver"),
        (["--log-opt", "mode=fast"], "logging mode not supported: fast"),
    ):
        _fails(berth("create", *options, busybox), 125, words)
    _ok(berth("rm", "quiet", "local"))


# -- files the CLI reads and writes ----------------------------------------------------------


def test_cidfile_and_label_file(berth: Berth, busybox: str, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    container = _ok(berth("run", "-d", "--cidfile", str(cidfile), busybox, "sleep", "60")).strip()
    assert cidfile.read_text() == container
    assert _inspect(berth, container)["HostConfig"]["ContainerIDFile"] == str(cidfile)
    again = berth("run", "-d", "--cidfile", str(cidfile), busybox, "sleep", "60")
    _fails(again, 125, f"container ID file found, make sure the other container isn't running "
           f"or delete {cidfile}")  # fmt: skip
    assert _ok(berth("ps", "-aq", "--no-trunc")).split() == [container]
    failed = tmp_path / "failed"
    _fails(berth("create", "--cidfile", str(failed), "--pull", "never", "no-such-image"), 125, "")
    assert not failed.exists()  # removed again when the create fails
    _ok(berth("rm", "-f", container))

    labels = tmp_path / "labels"
    labels.write_text("# a comment\n\nteam=core\nenv=dev\nempty=\n")
    created = _ok(berth("create", "--label-file", str(labels), "--label", "env=prod", busybox))
    shown = _inspect(berth, created.strip())["Config"]["Labels"]
    assert shown == {"team": "core", "env": "prod", "empty": ""}
    _fails(berth("create", "--label-file", str(tmp_path / "nope"), busybox), 125, "open ")


def test_attach_picks_the_streams(berth: Berth, busybox: str) -> None:
    both = "echo out; echo err >&2"
    only_out = berth("run", "--name", "a1", "-a", "stdout", busybox, "sh", "-c", both)
    assert (only_out.returncode, only_out.stdout, only_out.stderr) == (0, "out\n", "")
    only_err = berth("run", "--name", "a2", "-a", "STDERR", busybox, "sh", "-c", both)
    assert (only_err.returncode, only_err.stdout, only_err.stderr) == (0, "", "err\n")
    streams = "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}"
    assert _ok(berth("inspect", "-f", streams, "a1")) == "false true false\n"
    piped = berth("run", "--name", "a3", "-i", "-a", "stdout", busybox, "cat", input="hello\n")
    assert _ok(piped) == "hello\n"
    assert _ok(berth("inspect", "-f", streams + " {{.Config.StdinOnce}}", "a3")) == (
        "true true false true\n"
    )
    detached = _ok(berth("run", "-d", busybox, "true")).strip()
    assert _ok(berth("inspect", "-f", streams, detached)) == "false false false\n"
    created = _ok(berth("create", busybox)).strip()
    assert _ok(berth("inspect", "-f", streams, created)) == "false true true\n"
    _fails(berth("run", "-d", "-a", "stdout", busybox), 125,
           "cannot specify both --attach and --detach")  # fmt: skip
    _fails(berth("run", "-a", "foo", busybox), 125, "valid streams are STDIN, STDOUT and STDERR")


# -- mounts ----------------------------------------------------------------------------------


def test_volumes_from(berth: Berth, busybox: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "f").write_text("from the host\n")
    _ok(berth("run", "--name", "source", "-v", "data:/data", "-v", f"{shared}:/src:ro",
              busybox, "sh", "-c", "echo in-volume > /data/x"))  # fmt: skip
    out = _ok(berth("run", "--rm", "--volumes-from", "source", busybox, "sh", "-c",
                    "cat /data/x /src/f; echo more > /data/y && echo wrote"))  # fmt: skip
    assert out == "in-volume\nfrom the host\nwrote\n"
    readonly = berth("run", "--rm", "--volumes-from", "source:ro", busybox, "sh", "-c",
                     "echo no > /data/z")  # fmt: skip
    assert readonly.returncode != 0 and "Read-only file system" in readonly.stderr
    created = _ok(berth("create", "--volumes-from", "source:ro", "-v", f"{tmp_path}:/data",
                        busybox)).strip()  # fmt: skip
    document = _inspect(berth, created)
    assert document["HostConfig"]["VolumesFrom"] == ["source:ro"]
    assert document["HostConfig"]["Binds"] == [f"{tmp_path}:/data"]
    mounts = {m["Destination"]: m for m in document["Mounts"]}
    assert mounts["/data"]["Source"] == str(tmp_path)  # its own bind wins
    assert mounts["/src"]["RW"] is False and mounts["/src"]["Source"] == str(shared)
    _fails(berth("create", "--volumes-from", "nope", busybox), 125, "No such container: nope")
    _fails(berth("create", "--volumes-from", "source:xx", busybox), 125, "invalid mode: xx")
    _ok(berth("rm", created, "source"))
    _ok(berth("volume", "rm", "data"))


def test_relative_and_missing_bind_sources(berth: Berth, busybox: str, tmp_path: Path) -> None:
    """Docker 23+'s CLI makes `./dir` absolute; dockerd makes a missing -v source, while
    --mount refuses it."""
    missing = tmp_path / "missing" / "deep"
    run = berth.popen("run", "--rm", "-v", "./here:/here", "-v", f"{missing}:/m", busybox, "sh",
                      "-c", "echo made > /here/f; echo also > /m/g", cwd=tmp_path)  # fmt: skip
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert (tmp_path / "here" / "f").read_text() == "made\n"
    assert (missing / "g").read_text() == "also\n"
    refused = berth("run", "--rm", "--mount", f"type=bind,src={tmp_path}/nope,dst=/x", busybox)
    _fails(refused, 125, "bind source path does not exist")
    assert not (tmp_path / "nope").exists()


def test_read_only_rootfs_covers_the_etc_files_and_tmpfs_options(
    berth: Berth, busybox: str
) -> None:
    script = (
        "for f in hosts hostname resolv.conf; do echo x > /etc/$f || echo refused-$f; done; "
        "grep ' /t ' /proc/mounts; readlink /etc/mtab"
    )
    result = berth("run", "--rm", "--read-only", "--mount", "type=tmpfs,target=/t", busybox,
                   "sh", "-c", script)  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[:3] == ["refused-hosts", "refused-hostname", "refused-resolv.conf"], result.stderr
    options = lines[3].split()[3].split(",")
    assert {"nosuid", "nodev", "noexec"} <= set(options)
    assert lines[4] == "/proc/mounts"
    writable = _ok(berth("run", "--rm", busybox, "sh", "-c", "echo 1.2.3.4 x >> /etc/hosts && "
                         "readlink /etc/mtab"))  # fmt: skip
    assert writable == "/proc/mounts\n"


def test_cp_of_etc_hostname_from_a_stopped_container(berth: Berth, busybox: str) -> None:
    _ok(berth("run", "--name", "named", "-h", "myhost", busybox, "true"))
    archive = subprocess.run(
        berth.argv("cp", "named:/etc/hostname", "-"), capture_output=True, timeout=60, check=False
    )
    assert archive.returncode == 0, archive.stderr
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        member = tar.extractfile("hostname")
        assert member is not None and member.read() == b"myhost\n"
    _ok(berth("rm", "named"))


# -- inspect ---------------------------------------------------------------------------------


def test_inspect_has_dockers_host_config_keys_and_defaults(berth: Berth, busybox: str) -> None:
    created = _ok(berth("create", "--name", "plain", busybox)).strip()
    document = _inspect(berth, created)
    host_config = document["HostConfig"]
    assert set(host_config) >= DOCKER_2010_HOST_CONFIG_KEYS
    assert host_config["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host_config["PortBindings"] == {} and host_config["Binds"] is None
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert "/proc/kcore" in host_config["MaskedPaths"]
    assert document["Driver"] == "overlay2" and document["GraphDriver"]["Name"] == "overlay2"
    data = document["GraphDriver"]["Data"]
    assert set(data) == {"LowerDir", "MergedDir", "UpperDir", "WorkDir"}
    assert all(Path(path).is_dir() for path in data["LowerDir"].split(":"))
    assert Path(data["UpperDir"]).is_dir()
    assert {"Domainname", "Volumes", "OnBuild"} <= set(document["Config"])
    limited = _ok(berth("create", "-m", "64m", "--restart", "no", busybox)).strip()
    limits = _inspect(berth, limited)["HostConfig"]
    assert (limits["Memory"], limits["MemorySwap"]) == (64 << 20, 128 << 20)  # dockerd: twice
    assert limits["RestartPolicy"]["Name"] == "no"
    template = "{{.HostConfig.ShmSize}} {{.HostConfig.Runtime}} {{.HostConfig.VolumeDriver}}|"
    assert _ok(berth("inspect", "-f", template, "plain")) == "67108864 runc |\n"
    _ok(berth("rm", created, limited))


# -- published ports -------------------------------------------------------------------------

TIME_WAIT = """
import socket, sys
port = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", port))
server.listen()
client = socket.create_connection(("127.0.0.1", port))
accepted, _ = server.accept()
accepted.close()  # the server's side closes first: its port is left in TIME_WAIT
client.close()
server.close()
"""


def test_a_port_in_time_wait_can_be_published(
    berth: Berth, host_ns: HostNamespace, busybox: str
) -> None:
    """docker-proxy binds with SO_REUSEADDR: a server's port just closed is publishable."""
    port = 18181
    assert host_ns.run("python3", "-c", TIME_WAIT, str(port)).returncode == 0
    waiting = host_ns.run("ss", "-tan", "state", "time-wait", f"( sport = :{port} )")
    assert f":{port}" in waiting.stdout
    _ok(berth("run", "-d", "--name", "web", "-p", f"{port}:80", busybox, "sleep", "60"))
    again = berth("run", "-d", "--name", "web2", "-p", f"{port}:80", busybox, "sleep", "60")
    _fails(again, 125, "port is already allocated")
    taken = host_ns.run("python3", "-c", (
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        f"s.bind(('0.0.0.0',{port}))"
    ))  # fmt: skip
    assert taken.returncode != 0 and "Address already in use" in taken.stderr
    _ok(berth("rm", "-f", "web", "web2"))


# -- the Engine API --------------------------------------------------------------------------


def test_the_api_takes_the_same_fields(api: Any, berth: Berth, busybox: str) -> None:
    """The docker 28 CLI against `berth serve`: DNS, an address, links, the log driver and
    --volumes-from arrive in the create body and work as from berth's CLI."""
    _ok(api.docker("network", "create", "--subnet", "10.78.0.0/24", "fixed"))
    _ok(api.docker("run", "-d", "--name", "db", "--network", "fixed", "--ip", "10.78.0.9",
                   "-v", "/data", busybox, "sleep", "60"))  # fmt: skip
    out = _ok(api.docker(
        "run", "--name", "client", "--network", "fixed", "--dns-option", "timeout:1",
        "--link", "db:store", "--volumes-from", "db", "--log-driver", "local", busybox, "sh",
        "-c", "cat /etc/resolv.conf; nslookup store; ls -d /data",
    ))  # fmt: skip
    assert out.startswith("nameserver 127.0.0.11\noptions timeout:1 ndots:0\n")
    assert "Address: 10.78.0.9" in out and out.endswith("/data\n")
    template = "{{.HostConfig.DnsOptions}} {{.HostConfig.Links}} {{.HostConfig.LogConfig.Type}}"
    shown = _ok(api.docker("inspect", "-f", template, "client"))
    assert shown == "[timeout:1] [/db:/client/store] local\n"
    _ok(api.docker("rm", "client"))
    template = "{{json .NetworkSettings.Networks.fixed.IPAMConfig}}"
    assert _ok(api.docker("inspect", "-f", template, "db")) == '{"IPv4Address":"10.78.0.9"}\n'
    _ok(api.docker("rm", "-f", "db"))
    _ok(api.docker("network", "rm", "fixed"))
