"""`berth events`: the journal of what every berth process did to the store."""

from __future__ import annotations

import json
import subprocess
import time

from tests.fixtures.store import Berth


def _events(berth: Berth, since: float, *extra: str) -> list[dict[str, object]]:
    result = berth(
        "events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}",
        "--format", "{{json .}}", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_containers_life_is_journaled_by_the_cli_and_its_monitor(
    berth: Berth, busybox: str
) -> None:
    since = time.time()
    berth("run", "--name", "short", "--label", "tier=db", busybox, "sh", "-c", "exit 3")
    berth("rename", "short", "renamed", check=True)
    berth("rm", "renamed", check=True)
    events = _events(berth, since, "--filter", "type=container")
    actions = [e["Action"] for e in events]
    assert actions == ["create", "start", "die", "rename", "destroy"]
    die = events[2]["Actor"]
    assert isinstance(die, dict)
    assert die["Attributes"]["exitCode"] == "3"  # written by the monitor, not the CLI
    assert die["Attributes"]["tier"] == "db" and die["Attributes"]["image"] == busybox
    assert events[3]["Actor"]["Attributes"]["oldName"] == "/short"  # type: ignore[index]


def test_the_monitors_events_say_the_name_after_a_rename(berth: Berth, busybox: str) -> None:
    since = time.time()
    berth("run", "-d", "--name", "before", busybox, "sleep", "60", check=True)
    berth("rename", "before", "after", check=True)
    berth("kill", "after", check=True)
    berth("wait", "after", check=True)
    events = _events(berth, since, "--filter", "event=die")
    assert [e["Actor"]["Attributes"]["name"] for e in events] == ["after"]  # type: ignore[index]
    berth("rm", "after", check=True)


def test_filters_and_the_default_line(berth: Berth, busybox: str) -> None:
    since = time.time()
    berth("volume", "create", "journaled", check=True)
    berth("run", "--rm", "-v", "journaled:/data:ro", busybox, "true", check=True)
    berth("volume", "rm", "journaled", check=True)
    berth("tag", busybox, "another:1", check=True)
    berth("rmi", "another:1", check=True)
    volumes = _events(berth, since, "--filter", "type=volume")
    assert [(e["Action"], e["Actor"]["ID"]) for e in volumes] == [  # type: ignore[index]
        ("create", "journaled"),
        ("mount", "journaled"),
        ("destroy", "journaled"),
    ]
    [created] = _events(berth, since, "--filter", "event=create", "--filter", "type=container")
    assert volumes[1]["Actor"]["Attributes"] == {  # type: ignore[index]
        "container": created["Actor"]["ID"],  # type: ignore[index]
        "destination": "/data",
        "driver": "local",
        "propagation": "",
        "read/write": "false",
    }
    images = _events(berth, since, "--filter", "image=another:1")
    assert [e["Action"] for e in images] == ["tag", "untag"]
    plain = berth("events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}")
    first = plain.stdout.splitlines()[0]
    assert " volume create journaled (driver=local)" in first
    assert first[:4].isdigit() and first[10] == "T"


def test_following_shows_what_another_command_does(berth: Berth, busybox: str) -> None:
    follower = berth.popen("events", "--filter", "event=create", "--format", "{{.Actor.ID}}")
    try:
        time.sleep(1.0)  # the follower starts from the end of the journal
        created = berth("create", busybox, "true").stdout.strip()
        deadline = time.monotonic() + 20
        line = ""
        assert follower.stdout is not None
        while time.monotonic() < deadline and not line:
            line = follower.stdout.readline().strip()
        assert line == created
    finally:
        follower.terminate()
        try:
            follower.wait(10)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()


def test_bad_times_and_filters_are_refused(berth: Berth) -> None:
    result = berth("events", "--since", "yesterday-ish", "--until", "1")
    assert result.returncode != 0 and "invalid value for --since" in result.stderr
    result = berth("events", "--filter", "colour=red", "--until", "1")
    assert result.returncode != 0 and "invalid filter 'colour'" in result.stderr
    assert "Traceback" not in result.stderr
