"""`berth volume ...` and named volumes in containers: lifecycle, copy-up, in-use refusal,
prune. Every container a test starts is removed by the test."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.fixtures.store import Berth, Store


def test_volume_lifecycle(berth: Berth, store: Store) -> None:
    created = berth("volume", "create", "--label", "team=a", "data")
    assert created.returncode == 0, created.stderr
    assert created.stdout == "data\n"
    assert berth("volume", "create", "data").stdout == "data\n"  # idempotent, as Docker
    anonymous = berth("volume", "create")
    assert re.fullmatch(r"[0-9a-f]{64}\n", anonymous.stdout)
    random_name = anonymous.stdout.strip()

    listed = berth("volume", "ls").stdout.splitlines()
    assert listed[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ["local", "data"] in [line.split() for line in listed[1:]]
    assert sorted(berth("volume", "ls", "-q").stdout.split()) == sorted(["data", random_name])
    assert berth("volume", "ls", "-q", "--filter", "label=team=a").stdout == "data\n"
    assert berth("volume", "ls", "-q", "--filter", "name=dat").stdout == "data\n"
    formatted = berth("volume", "ls", "--filter", "name=data", "--format", "{{.Name}}:{{.Driver}}")
    assert formatted.stdout == "data:local\n"
    assert berth("volume", "ls", "--filter", "bogus=1").returncode == 1

    document = json.loads(berth("volume", "inspect", "data").stdout)
    assert len(document) == 1
    volume = document[0]
    assert set(volume) == {
        "CreatedAt",
        "Driver",
        "Labels",
        "Mountpoint",
        "Name",
        "Options",
        "Scope",
    }
    assert volume["Name"] == "data"
    assert volume["Driver"] == "local" and volume["Scope"] == "local"
    assert volume["Labels"] == {"team": "a"} and volume["Options"] is None
    assert volume["Mountpoint"] == str(store.root / "volumes" / "data" / "_data")
    assert os.path.isdir(volume["Mountpoint"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", volume["CreatedAt"])
    assert berth("volume", "inspect", "--format", "{{.Name}}", "data").stdout == "data\n"
    assert json.loads(berth("inspect", "data").stdout) == document  # any object, as Docker
    assert berth("inspect", "--type", "volume", "-f", "{{.Driver}}", "data").stdout == "local\n"

    missing = berth("volume", "inspect", "nope")
    assert missing.returncode == 1
    assert "No such volume: nope" in missing.stderr
    assert berth("volume", "rm", "nope").returncode == 1
    assert berth("volume", "rm", "-f", "nope").returncode == 0

    removed = berth("volume", "rm", "data", random_name)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.split() == ["data", random_name]
    assert berth("volume", "ls", "-q").stdout == ""
    assert not (store.root / "volumes" / "data").exists()


def test_copy_up_fills_a_new_volume_and_data_survives(berth: Berth, busybox: str) -> None:
    # The image has /etc/passwd and /etc/group: a new, empty volume at /etc gets them.
    first = berth(
        "run",
        "--rm",
        "-v",
        "etcvol:/etc",
        busybox,
        "sh",
        "-c",
        "ls /etc; echo kept > /etc/mine",
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["group", "passwd"]
    assert berth("volume", "ls", "-q").stdout == "etcvol\n"  # created by run
    mountpoint = json.loads(berth("volume", "inspect", "etcvol").stdout)[0]["Mountpoint"]
    assert sorted(os.listdir(mountpoint)) == ["group", "mine", "passwd"]

    # Not empty any more: no second copy, the container's own file survives.
    os.remove(os.path.join(mountpoint, "passwd"))
    second = berth("run", "--rm", "-v", "etcvol:/etc", busybox, "ls", "/etc")
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["group", "mine"]
    assert berth("volume", "rm", "etcvol").returncode == 0


def test_copy_up_keeps_owners_and_modes(berth: Berth, busybox: str) -> None:
    # /root is 0700 in the image and /tmp 1777: the volumes' roots take those modes.
    result = berth(
        "run",
        "--rm",
        "-v",
        "tmpvol:/tmp",
        "-v",
        "rootvol:/root",
        busybox,
        "stat",
        "-c",
        "%a %u",
        "/tmp",
        "/root",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["1777 0", "700 0"]
    assert berth("volume", "rm", "tmpvol", "rootvol").returncode == 0


def test_rm_refused_while_in_use_and_prune(berth: Berth, busybox: str) -> None:
    run = berth("run", "-d", "--name", "user", "-v", "busy:/data", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    container_id = run.stdout.strip()
    assert berth("volume", "create", "idle").returncode == 0
    try:
        refused = berth("volume", "rm", "busy")
        assert refused.returncode == 1
        assert f"remove busy: volume is in use - [{container_id}]" in refused.stderr
        assert berth("volume", "rm", "-f", "busy").returncode == 1
        assert berth("volume", "ls", "-q", "-f", "dangling=true").stdout == "idle\n"
        assert berth("volume", "ls", "-q", "-f", "dangling=false").stdout == "busy\n"

        # Without -a only anonymous volumes go (Docker 23+): none here.
        kept = berth("volume", "prune", "-f")
        assert kept.returncode == 0
        assert kept.stdout == "Total reclaimed space: 0B\n"
        pruned = berth("volume", "prune", "-f", "-a")
        assert pruned.returncode == 0, pruned.stderr
        assert pruned.stdout.startswith("Deleted Volumes:\nidle\n\nTotal reclaimed space: ")
        assert berth("volume", "ls", "-q").stdout == "busy\n"
    finally:
        assert berth("rm", "-f", "user").returncode == 0
    assert berth("volume", "rm", "busy").returncode == 0


def test_prune_asks_first(berth: Berth) -> None:
    assert berth("volume", "create", "keep").returncode == 0
    answered = berth("volume", "prune", "-a", input="n\n")
    assert answered.returncode == 0
    assert "Are you sure you want to continue? [y/N]" in answered.stdout
    assert berth("volume", "ls", "-q").stdout == "keep\n"


def test_cp_reaches_volumes_of_running_and_stopped_containers(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    run = berth("run", "-d", "--name", "holder", "-v", "cpvol:/data", busybox, "sleep", "60")
    assert run.returncode == 0, run.stderr
    mountpoint = Path(json.loads(berth("volume", "inspect", "cpvol").stdout)[0]["Mountpoint"])
    local = tmp_path / "note"
    local.write_text("running\n")
    try:
        assert berth("cp", str(local), "holder:/data/running").returncode == 0
        assert (mountpoint / "running").read_text() == "running\n"
    finally:
        assert berth("stop", "-t", "1", "holder").returncode == 0
    local.write_text("stopped\n")
    copied = berth("cp", str(local), "holder:/data/stopped")
    assert copied.returncode == 0, copied.stderr
    assert (mountpoint / "stopped").read_text() == "stopped\n"
    back = berth("cp", "holder:/data/running", str(tmp_path / "back"))
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "back").read_text() == "running\n"
    assert berth("rm", "holder").returncode == 0
    assert berth("volume", "rm", "cpvol").returncode == 0


def test_anonymous_volumes_go_with_rm_v_and_run_rm(berth: Berth, busybox: str) -> None:
    """`-v /path` mounts a new anonymous volume (a random name, Docker's label); `rm` keeps
    it, `rm -v` and `run --rm` remove it, a named volume stays in every case."""
    before = set(berth("volume", "ls", "-q").stdout.split())
    kept = berth("run", "--name", "kept", "-v", "/data", busybox, "sh", "-c", "echo x > /data/f")
    assert kept.returncode == 0, kept.stderr
    mount = json.loads(berth("inspect", "kept").stdout)[0]["Mounts"][0]
    name = mount["Name"]
    assert re.fullmatch(r"[0-9a-f]{64}", name) and mount["Destination"] == "/data"
    labels = json.loads(berth("volume", "inspect", name).stdout)[0]["Labels"]
    assert "com.docker.volume.anonymous" in labels
    assert berth("rm", "kept").returncode == 0
    assert name in berth("volume", "ls", "-q").stdout.split()  # plain rm keeps it
    assert berth("volume", "prune", "-f").returncode == 0  # unused and anonymous: pruned
    assert set(berth("volume", "ls", "-q").stdout.split()) == before

    made = berth("create", "--name", "made", "-v", "/data", "-v", "named:/n", busybox, "true")
    assert made.returncode == 0, made.stderr
    assert len(set(berth("volume", "ls", "-q").stdout.split()) - before) == 2
    assert berth("rm", "-v", "made").returncode == 0
    assert set(berth("volume", "ls", "-q").stdout.split()) - before == {"named"}

    ran = berth("run", "--rm", "-v", "/scratch", busybox, "sh", "-c", "echo y > /scratch/f")
    assert ran.returncode == 0, ran.stderr
    assert set(berth("volume", "ls", "-q").stdout.split()) - before == {"named"}
    failed = berth("create", "--network", "no-such-net", "-v", "/data", busybox, "true")
    assert failed.returncode != 0 and "not found" in failed.stderr
    assert set(berth("volume", "ls", "-q").stdout.split()) - before == {"named"}  # none made
    assert berth("volume", "rm", "named").returncode == 0
