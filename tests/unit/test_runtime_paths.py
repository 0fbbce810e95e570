"""The runtime's pure pieces: mount options, destinations resolved inside the rootfs, the
command lookup with Docker's 126/127, capability names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.runtime.command import find_command
from berth.runtime.credentials import capability_numbers
from berth.runtime.mounts import (
    MS_STRICTATIME,
    MountError,
    inside,
    parse_options,
)
from berth.runtime.sync import InitError
from berth.sys import MS_BIND, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_SLAVE


def test_options_split_into_flags_propagation_and_data() -> None:
    flags, propagation, data = parse_options(
        ["rbind", "ro", "nosuid", "rslave", "mode=755", "size=65536k", "strictatime"]
    )
    assert flags == MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_STRICTATIME
    assert propagation == MS_SLAVE | MS_REC
    assert data == "mode=755,size=65536k"
    flags, propagation, data = parse_options(["ro", "rw", "private"])
    assert (flags, propagation, data) == (0, MS_PRIVATE, "")


def test_destinations_stay_inside_the_rootfs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to("../../../../")
    (root / "loop").symlink_to("loop")
    assert inside(str(root), "/abs/x") == str(root / "etc" / "x")
    assert inside(str(root), "/up/etc") == str(root / "etc")
    assert inside(str(root), "/../../etc/passwd") == str(root / "etc" / "passwd")
    with pytest.raises(MountError):
        inside(str(root), "/loop/x")


def test_command_lookup(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tool").write_text("#!/bin/sh\n")
    os.chmod(bin_dir / "tool", 0o755)
    (bin_dir / "plain").write_text("data\n")
    os.chmod(bin_dir / "plain", 0o644)
    env = [f"PATH=/nowhere:{bin_dir}"]
    assert find_command(["tool"], env) == str(bin_dir / "tool")
    assert find_command([str(bin_dir / "tool")], []) == str(bin_dir / "tool")
    with pytest.raises(InitError) as missing:
        find_command(["nope"], env)
    assert missing.value.exit_status == 127
    assert str(missing.value) == 'exec: "nope": executable file not found in $PATH'
    with pytest.raises(InitError) as skipped:  # not executable in PATH: skipped, as Go does
        find_command(["plain"], env)
    assert skipped.value.exit_status == 127
    with pytest.raises(InitError) as denied:  # even root needs one x bit to execute
        find_command([str(bin_dir / "plain")], env)
    assert denied.value.exit_status == 126
    assert str(denied.value) == f'exec: "{bin_dir / "plain"}": permission denied'
    with pytest.raises(InitError) as directory:
        find_command([str(bin_dir)], env)
    assert directory.value.exit_status == 126


def test_capability_names() -> None:
    assert capability_numbers(["CAP_CHOWN", "KILL", "CAP_NOT_A_THING"]) == {0, 5}
    assert capability_numbers(["CAP_CHECKPOINT_RESTORE"]) == {40}


def test_container_ids_cannot_leave_the_state_root(tmp_path: Path) -> None:
    from berth.errors import InvalidArgument
    from berth.runtime import Runtime

    runtime = Runtime(tmp_path)
    for bad in ("../x", "a/b", "", ".hidden", "x" * 200):
        with pytest.raises(InvalidArgument):
            runtime.state(bad)
