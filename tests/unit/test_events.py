"""The event journal: appends from many processes, rotation, following, Docker's filters."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from berth import events, journal_append
from berth.events import Journal
from berth.filters import Filters

WRITER = """
import sys
from pathlib import Path
from berth.events import Journal
journal = Journal(Path(sys.argv[1]))
for index in range(int(sys.argv[3])):
    journal.record("container", "start", f"{sys.argv[2]}-{index}", {"name": "x" * 300})
"""


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), "200"]) for w in range(4)
    ]
    for writer in writers:
        assert writer.wait(60) == 0
    lines = path.read_bytes().splitlines()
    assert len(lines) == 800
    actors = {json.loads(line)["Actor"]["ID"] for line in lines}
    assert len(actors) == 800


def test_a_full_journal_moves_aside_and_reading_from_the_past_crosses_it(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "events.log")
    start = time.time()
    count = journal_append.MAX_SIZE // 100  # lines are ~180 bytes: past one rotation
    for index in range(count):
        journal.record("volume", "create", f"v{index}")
    assert journal.older.exists()
    read = [e for e in journal.read(start, time.time(), Filters(), lambda: True) if e]
    names = [e["Actor"]["ID"] for e in read]
    # What the rotation kept (the older file and the current one), in order, no duplicates.
    assert names == sorted(names, key=lambda n: int(n[1:]))
    assert names[-1] == f"v{count - 1}"
    assert len(names) > count // 2


def test_following_sees_what_is_written_later_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.log")
    journal.record("volume", "create", "before")
    stop = threading.Event()
    seen: list[str] = []

    def follow() -> None:
        for event in journal.read(None, None, Filters(), stop.is_set):
            if event is not None:
                seen.append(event["Actor"]["ID"])

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.3)
    journal.record("volume", "create", "after")
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join(5)
    assert seen == ["after"]


def test_until_in_the_past_ends_the_read(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.log")
    journal.record("volume", "create", "a")
    until = time.time()
    time.sleep(0.01)
    journal.record("volume", "create", "b")
    read = [e["Actor"]["ID"] for e in journal.read(0, until, Filters(), lambda: False) if e]
    assert read == ["a"]


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    journal = Journal(path)
    journal.record("volume", "create", "a")
    with open(path, "ab") as file:
        file.write(b'{"Type": "volu\n')
    journal.record("volume", "create", "b")
    read = [e["Actor"]["ID"] for e in journal.read(0, time.time(), Filters(), lambda: True) if e]
    assert read == ["a", "b"]


def test_filters_follow_docker() -> None:
    def event(kind: str, action: str, actor: str, **attributes: str) -> events.Event:
        return {"Type": kind, "Action": action, "Actor": {"ID": actor, "Attributes": attributes}}

    started = event("container", "start", "c1", name="web", image="busybox", tier="front")
    healthy = event("container", "health_status: healthy", "c1", name="web", image="busybox")
    connected = event("network", "connect", "n1", name="lan", container="c1")
    pulled = event("image", "pull", "busybox:latest", name="busybox")

    def matching(**values: list[str]) -> list[events.Event]:
        filters = Filters(values)
        return [e for e in (started, healthy, connected, pulled) if events.matches(e, filters)]

    assert matching(type=["container"]) == [started, healthy]
    assert matching(container=["web"]) == [started, healthy]
    assert matching(container=["c"]) == [started, healthy]  # by prefix, as moby's
    assert matching(container=["c1"], type=["network"]) == []
    assert matching(event=["health_status"]) == [healthy]
    assert matching(image=["busybox"]) == [started, healthy, pulled]
    assert matching(label=["tier=front"]) == [started]
    assert matching(network=["lan"]) == [connected]
    assert matching(type=["volume", "image"]) == [pulled]


def test_recording_into_a_missing_directory_loses_the_event_not_the_change(
    tmp_path: Path,
) -> None:
    Journal(tmp_path / "gone" / "events.log").record("volume", "create", "v")  # no raise


def test_an_event_line_is_what_json_dumps_writes(tmp_path: Path) -> None:
    """The journal's light writer (no json import) writes the bytes json.dumps would."""
    path = tmp_path / "events.log"
    attributes = {"name": 'app "x"\\ \u00e9\u6f22\n\t\x01', "image": "busybox"}
    journal_append.append(str(path), "container", "die", "c1", attributes)
    line = path.read_bytes()
    document = json.loads(line)
    assert line == (json.dumps(document, separators=(",", ":")) + "\n").encode()
    assert document["Actor"]["Attributes"] == attributes and document["from"] == "busybox"
