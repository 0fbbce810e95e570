"""`logs -f`'s reader (berth.container.logs.Follower): what a container wrote before it was
removed is still read, from the files the follower holds open; a log that is still there is
opened again at each read, so a rotation is followed."""

from __future__ import annotations

import json
from pathlib import Path

from berth.container import logs


def _line(text: str) -> bytes:
    record = {"log": text, "stream": "stdout", "time": "2026-12-06T11:00:00.000000001Z"}
    return json.dumps(record).encode() + b"\n"


def test_what_was_written_before_the_removal_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ctr-json.log"
    path.write_bytes(_line("first\n"))
    follower = logs.Follower(path)
    try:
        records, offset = follower.read(0)
        assert [record["log"] for record in records] == ["first\n"]
        with path.open("ab") as stream:
            stream.write(_line("last\n"))
        path.unlink()  # the container removed before the follower looked again
        records, offset = follower.read(offset)
        assert [record["log"] for record in records] == ["last\n"]
        assert follower.read(offset) == ([], offset)
    finally:
        follower.close()


def test_a_rotated_log_is_followed_into_its_new_file(tmp_path: Path) -> None:
    path = tmp_path / "ctr-json.log"
    path.write_bytes(_line("one\n"))
    follower = logs.Follower(path)
    try:
        _, offset = follower.read(0)
        path.rename(f"{path}.1")  # as the monitor moves it along, the base says where on
        Path(f"{path}.base").write_text(str(offset))
        path.write_bytes(_line("two\n"))
        records, _ = follower.read(offset)
        assert [record["log"] for record in records] == ["two\n"]
    finally:
        follower.close()


def test_no_log_reads_nothing(tmp_path: Path) -> None:
    follower = logs.Follower(tmp_path / "none.log")
    assert follower.read(0) == ([], 0)
    follower.close()
