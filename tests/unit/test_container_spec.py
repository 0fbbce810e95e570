"""The OCI spec berth builds from Docker-shaped Config/HostConfig, and run-flag parsing."""

import argparse
from pathlib import Path

import pytest

from berth.cli.run_options import add_run_flags, build_documents, parse_size
from berth.container import spec
from berth.container.mounts import oci_mounts, parse_mount, parse_volume
from berth.container.names import check_name, random_name
from berth.container.user import User, resolve
from berth.errors import InvalidArgument
from berth.runtime.mounts import confines_devices

ROOT = User(0, 0, (), "/root")


def _parse(*argv: str) -> tuple[dict, dict]:
    parser = argparse.ArgumentParser(add_help=False)
    add_run_flags(parser)
    return build_documents(parser.parse_args(list(argv)))


def _build(config: dict, host_config: dict, netns: str | None = None) -> dict:
    inputs = spec.SpecInputs(rootfs=Path("/r"), user=ROOT, etc_files={}, netns=netns, seccomp=None)
    return spec.build(config, host_config, inputs)


def test_default_spec_matches_docker() -> None:
    document = _build({"Cmd": ["sh"], "Hostname": "abc", "Env": ["A=1"]}, {})
    process = document["process"]
    assert process["args"] == ["sh"]
    assert process["capabilities"]["bounding"] == list(spec.DEFAULT_CAPABILITIES)
    assert process["capabilities"]["inheritable"] == []
    assert "A=1" in process["env"] and "HOSTNAME=abc" in process["env"]
    assert "/proc/kcore" in document["linux"]["maskedPaths"]
    assert "/proc/sys" in document["linux"]["readonlyPaths"]
    kinds = {n["type"] for n in document["linux"]["namespaces"]}
    assert kinds == {"pid", "ipc", "uts", "mount", "cgroup", "network"}
    sysfs = next(m for m in document["mounts"] if m["destination"] == "/sys")
    assert "ro" in sysfs["options"]


def test_privileged_has_every_capability_and_no_masks() -> None:
    document = _build({"Cmd": ["sh"]}, {"Privileged": True})
    assert document["process"]["capabilities"]["bounding"] == list(spec.ALL_CAPABILITIES)
    assert "maskedPaths" not in document["linux"]


def test_device_rules_deny_by_default_unless_privileged() -> None:
    confined = _build({"Cmd": ["sh"]}, {})
    rules = confined["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules
    assert confines_devices(confined)
    assert not confines_devices(_build({"Cmd": ["sh"]}, {"Privileged": True}))
    assert not confines_devices({"linux": {}})  # no rules: nothing denied (as runc)
    binds = oci_mounts({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}, Path("/v"))
    assert "nodev" in binds[0]["options"]
    privileged = {"Privileged": True, "Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}
    assert "nodev" not in oci_mounts(privileged, Path("/v"))[0]["options"]


def test_host_network_shares_the_host_namespace() -> None:
    document = _build({"Cmd": ["sh"]}, {}, netns="host")
    assert "network" not in {n["type"] for n in document["linux"]["namespaces"]}


@pytest.mark.parametrize(
    ("add", "drop", "present", "absent"),
    [
        (["NET_ADMIN"], [], "CAP_NET_ADMIN", None),
        ([], ["chown"], None, "CAP_CHOWN"),
        (["SYS_ADMIN"], ["ALL"], "CAP_SYS_ADMIN", "CAP_KILL"),
    ],
)
def test_capability_add_and_drop(add, drop, present, absent) -> None:
    chosen = spec.capabilities(add, drop, False)
    if present:
        assert present in chosen
    if absent:
        assert absent not in chosen


def test_bad_capability_and_ulimit() -> None:
    with pytest.raises(InvalidArgument, match="invalid capability"):
        spec.capability_name("NOPE")
    with pytest.raises(InvalidArgument):
        spec.parse_ulimit("nofile=10:5")
    assert spec.parse_ulimit("nofile=10:20") == {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}


def test_no_command_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="No command specified"):
        spec.process_args({"Cmd": None, "Entrypoint": None})


def test_env_merge_keeps_first_order_and_last_value() -> None:
    assert spec.merge_env(["A=1", "B=2"], ["A=3"]) == ["A=3", "B=2"]


def test_user_resolution(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n")
    # As runc: the primary gid, then the groups listing the user (only when no group is
    # named), then --group-add's, by name or number.
    assert resolve(tmp_path, "app") == User(1000, 1000, (1000, 50), "/home/app")
    assert resolve(tmp_path, "1000", ["root", "77"]).additional_gids == (1000, 50, 0, 77)
    assert resolve(tmp_path, "app:staff") == User(1000, 50, (50,), "/home/app")
    assert resolve(tmp_path, "4242:4343") == User(4242, 4343, (4343,), "/")
    assert resolve(tmp_path, "") == User(0, 0, (0,), "/root")
    with pytest.raises(InvalidArgument, match="Unable to find group nosuch"):
        resolve(tmp_path, "app", ["nosuch"])
    with pytest.raises(InvalidArgument, match="unable to find user nobody"):
        resolve(tmp_path, "nobody")
    with pytest.raises(InvalidArgument, match="unable to find group"):
        resolve(tmp_path, "app:nogroup")


def test_volume_and_mount_parsing() -> None:
    assert parse_volume("/host:/ctr:ro") == {
        "Type": "bind",
        "Source": "/host",
        "Target": "/ctr",
        "ReadOnly": True,
        "Mode": "ro",
    }
    assert parse_volume("data:/var/lib")["Type"] == "volume"
    assert parse_volume("data:/var/lib")["Mode"] == "z"  # Docker's default for a volume
    assert parse_volume("/host:/ctr")["Mode"] == ""
    with pytest.raises(InvalidArgument):
        parse_volume("/host:relative")
    with pytest.raises(InvalidArgument):
        parse_volume("/a:/b:wat")
    mount = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1000")
    assert mount["TmpfsOptions"] == {"SizeBytes": "1000"}
    with pytest.raises(InvalidArgument):
        parse_mount("type=bind,target=/x")


def test_names() -> None:
    assert check_name("/web-1") == "web-1"
    with pytest.raises(InvalidArgument, match="Invalid container name"):
        check_name("bad name")
    assert random_name(set()).count("_") == 1


def test_run_flags_become_docker_documents() -> None:
    config, host = _parse(
        "-e",
        "A=1",
        "-m",
        "64m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "50",
        "--restart",
        "on-failure:3",
        "--cap-drop",
        "chown",
        "-w",
        "/app",
        "--read-only",
        "busybox",
        "sh",
        "-c",
        "echo hi",
    )
    assert config["Image"] == "busybox" and config["Cmd"] == ["sh", "-c", "echo hi"]
    assert config["Env"] == ["A=1"] and config["WorkingDir"] == "/app"
    assert host["Memory"] == 64 << 20 and host["NanoCpus"] == 1_500_000_000
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["PidsLimit"] == 50 and host["ReadonlyRootfs"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rm", "--restart", "always", "busybox"], "Conflicting options"),
        (["--restart", "sometimes", "busybox"], "invalid restart policy"),
        (["-m", "lots", "busybox"], "invalid size"),
        (["--cpus", "x", "busybox"], "--cpus"),
        (["--cap-add", "BOGUS", "busybox"], "invalid capability"),
        (["--pull", "sometimes", "busybox"], "invalid pull option"),
        (["-p", "80/sctp", "busybox"], "invalid proto"),
        (["--network", "none", "-p", "80", "busybox"], "conflicting options: port publishing"),
        (["--security-opt", "bogus", "busybox"], "Invalid --security-opt"),
        (["--security-opt", "seccomp=/absent.json", "busybox"], "No such file"),
    ],
)
def test_run_flags_refuse_bad_input(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _parse(*argv)


def test_seccomp_file_is_read_at_create_and_entrypoint_is_one_word(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW",\n "syscalls": []}')
    config, host = _parse(
        "--security-opt", f"seccomp={profile}", "--entrypoint", "sh -c", "busybox"
    )
    assert host["SecurityOpt"] == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}']
    assert config["Entrypoint"] == ["sh -c"]
    profile.write_text("{not json")
    with pytest.raises(InvalidArgument, match="decoding seccomp profile"):
        _parse("--security-opt", f"seccomp={profile}", "busybox")
    _, kept = _parse("--security-opt", "seccomp=unconfined", "busybox")
    assert kept["SecurityOpt"] == ["seccomp=unconfined"]


def test_sizes() -> None:
    assert parse_size("512m", "-m") == 512 << 20
    assert parse_size("1g", "-m") == 1 << 30
    assert parse_size("1000", "-m") == 1000
