"""The replay's fingerprint of a build context (berth.build.replay): what changes it, what
does not, when it may be noted; and the quick path's reading of `build`'s words."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.build import inputs, records, replay
from berth.build.records import BuildCache
from berth.build.replay import Fingerprint, Replay, fingerprint
from berth.cli.commands import build
from berth.db import Database

DOCKERFILE = b"FROM busybox\nCOPY . /app/\n"


def _context(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.txt").write_text("main\n")
    (root / "src" / "util.txt").write_text("util\n")
    (root / "logs").mkdir()
    (root / "logs" / "today.log").write_text("log\n")
    (root / "secret.txt").write_text("s3cret\n")
    (root / ".dockerignore").write_text("logs\nsecret.txt\n")
    (root / "Dockerfile").write_bytes(DOCKERFILE)
    return root


def _print(root: Path, dockerfile: bytes = DOCKERFILE, **asked: object) -> Fingerprint:
    found = fingerprint(str(root), dockerfile, "Dockerfile", {"build_args": {}, **asked})
    assert found is not None
    return found


def _same_size_same_times(path: Path, text: str) -> None:
    times = os.stat(path)
    path.write_text(text)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


CHANGES: dict[str, Callable[[Path], object]] = {
    "content in place": lambda root: _same_size_same_times(root / "src" / "main.txt", "MAIN\n"),
    "a new file": lambda root: (root / "src" / "new.txt").write_text("new\n"),
    "a file removed": lambda root: (root / "src" / "util.txt").unlink(),
    "a file renamed": lambda root: (root / "src" / "util.txt").rename(root / "src" / "u.txt"),
    "a mode": lambda root: (root / "src" / "main.txt").chmod(0o755),
    "the ignore file": lambda root: (root / ".dockerignore").write_text("logs\n"),
    "a new directory": lambda root: (root / "src" / "sub").mkdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_what_a_build_can_read_changes_the_fingerprint(change: str, tmp_path: Path) -> None:
    root = _context(tmp_path / "ctx")
    before = _print(root)
    assert _print(root).value == before.value  # nothing changed: the same
    CHANGES[change](root)
    after = _print(root)
    assert after.value != before.value
    assert after.slot == before.slot


def test_what_the_ignore_file_hides_does_not(tmp_path: Path) -> None:
    root = _context(tmp_path / "ctx")
    before = _print(root)
    (root / "logs" / "today.log").write_text("more log lines\n")
    (root / "logs" / "tomorrow.log").write_text("log\n")
    (root / "secret.txt").write_text("another secret\n")
    assert _print(root).value == before.value


def test_the_dockerfile_and_what_was_asked(tmp_path: Path) -> None:
    root = _context(tmp_path / "ctx")
    before = _print(root)
    assert _print(root, DOCKERFILE + b'CMD ["true"]\n').value != before.value
    other = _print(root, build_args={"NOTE": "two"})
    assert other.slot != before.slot and other.value == before.value
    assert _print(root, tags=["app:2"]).slot != before.slot


def test_a_link_counts_with_what_it_leads_to(tmp_path: Path) -> None:
    root = _context(tmp_path / "ctx")
    # A link to a file the ignore file hides: a COPY of the link reads it, so it counts.
    (root / "shown.txt").symlink_to("secret.txt")
    before = _print(root)
    _same_size_same_times(root / "secret.txt", "S3CRET\n")
    assert _print(root).value != before.value
    (root / "shown.txt").unlink()
    (root / "shown.txt").symlink_to("src/main.txt")
    assert _print(root).value != before.value
    # A link to a directory: what it shows may be hidden from the walk, so no fingerprint.
    (root / "tree").symlink_to("logs")
    assert fingerprint(str(root), DOCKERFILE, "Dockerfile", {}) is None


def test_a_context_too_large_is_not_fingerprinted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _context(tmp_path / "ctx")
    monkeypatch.setattr(replay, "MAX_ENTRIES", 4)  # the walk sees 6 entries
    assert fingerprint(str(root), DOCKERFILE, "Dockerfile", {}) is None


def test_only_a_settled_context_may_be_noted(tmp_path: Path) -> None:
    root = _context(tmp_path / "ctx")
    assert not _print(root).settled  # just written: a change in the same tick could hide
    time.sleep(0.3)  # berth.build.inputs.SETTLED_NS
    settled = _print(root)
    assert settled.settled
    (root / "src" / "main.txt").write_text("again\n")
    assert not _print(root).settled


SECOND = 1_000_000_000
NOW = 1_700_000_000 * SECOND + 123_456_789


@pytest.mark.parametrize(
    ("mtime", "ctime", "expected"),
    [
        (NOW - SECOND // 2, NOW - SECOND // 2, True),  # fine times, half a second ago
        (NOW - SECOND // 10, NOW - SECOND, False),  # changed 0.1 s ago
        (NOW - SECOND, NOW - SECOND // 10, False),  # its inode changed 0.1 s ago
        (NOW - 3 * SECOND, NOW + SECOND, False),  # from the future: a clock set back
        # Whole seconds (FAT, small ext4 inodes, some network file systems): 2 s.
        (NOW // SECOND * SECOND - SECOND, NOW // SECOND * SECOND - SECOND, False),
        (NOW // SECOND * SECOND - 3 * SECOND, NOW // SECOND * SECOND - 3 * SECOND, True),
    ],
)
def test_when_a_file_is_settled(mtime: int, ctime: int, expected: bool) -> None:
    seconds = (0.0, mtime / SECOND, ctime / SECOND)
    st = os.stat_result((0o100644, 1, 1, 1, 0, 0, 5, 0, 0, 0, *seconds, NOW, mtime, ctime))
    assert (st.st_mtime_ns, st.st_ctime_ns) == (mtime, ctime)
    assert inputs.settled(st, NOW) is expected


@pytest.mark.parametrize(
    ("words", "taken"),
    [
        (["."], True),
        (["-t", "app:1", "-t", "app:latest", "."], True),
        (["--tag=app:1", "--build-arg", "A=1", "--label=k=v", "-q", "."], True),
        (["-f", "other/Dockerfile", "--target", "final", "--network", "none", "."], True),
        (["--iidfile", "id.txt", "--progress", "plain", "--rm", "--force-rm", "."], True),
        (["--no-cache", "."], False),
        (["--pull", "."], False),
        (["--secret", "id=a,src=b", "."], False),
        (["--cache-from", "app:1", "."], False),
        (["--platform", "linux/amd64", "."], False),
        (["-t=app:1", "."], False),  # argparse reads "=app:1": the builder says so
        (["-qt", "app:1", "."], False),
        (["--progress", "fancy", "."], False),
        (["-f", "-", "."], False),
        (["-t", "."], False),
        (["-"], False),
        (["http://example.com/ctx.tar"], False),
        ([".", "other"], False),
        ([], False),
    ],
)
def test_the_words_the_quick_path_takes(words: list[str], taken: bool) -> None:
    assert (build._quick_words(words) is not None) is taken


def test_the_replays_kept_are_the_last_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "KEPT_REPLAYS", 3)
    database = Database.open(tmp_path / "berth.db")
    try:
        cache = BuildCache(database)
        for number in range(5):
            made = Replay(f"f{number}", f"sha256:{number}", [], [], [], [])
            cache.remember_replay(f"slot{number}", made)
        kept = database.query("SELECT slot FROM build_replays ORDER BY slot")
        assert [row[0] for row in kept] == ["slot2", "slot3", "slot4"]
    finally:
        database.close()
