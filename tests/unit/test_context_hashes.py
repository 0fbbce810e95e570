"""The context files' digests remembered across builds: by `stat` identity, settled files
only, below the context's root only, and forgotten by `builder prune`."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from berth.build import inputs
from berth.build.context import Hashes
from berth.build.records import BuildCache
from berth.db import Database


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_settled_files_are_learned_and_then_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "SETTLED_NS", 0)  # every file counts as settled here
    root = tmp_path / "ctx"
    root.mkdir()
    inside, outside = root / "a.txt", tmp_path / "b.txt"
    inside.write_bytes(b"alpha")
    outside.write_bytes(b"beta")
    hashes = Hashes(str(root), {})
    assert hashes.of(str(inside), os.stat(inside)) == _sha(b"alpha")
    assert hashes.of(str(outside), os.stat(outside)) == _sha(b"beta")
    assert list(hashes.learned) == [str(inside)]  # a file outside the root is not kept

    # What is remembered for the same identity is trusted: the file is not read (the
    # remembered digest is a made-up one, so reading would show).
    identity, _ = hashes.learned[str(inside)]
    remembered = Hashes(str(root), {str(inside): (identity, "f" * 64)})
    assert remembered.of(str(inside), os.stat(inside)) == "f" * 64
    # The same size and times put back after a change: the change time still differs.
    times = os.stat(inside)
    _tick_after(times.st_ctime_ns, tmp_path / "probe")
    inside.write_bytes(b"omega")
    os.utime(inside, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert remembered.of(str(inside), os.stat(inside)) == _sha(b"omega")


def _tick_after(ctime_ns: int, probe: Path) -> None:
    """Wait for the filesystem's clock (coarse: a few ms) to pass a change time."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        probe.write_bytes(b"")
        if os.stat(probe).st_ctime_ns > ctime_ns:
            return
    raise AssertionError("the filesystem's clock did not move in 5 s")


def test_a_file_changed_just_now_is_hashed_but_not_remembered(tmp_path: Path) -> None:
    (tmp_path / "fresh.txt").write_bytes(b"new")
    hashes = Hashes(str(tmp_path), {})
    path = str(tmp_path / "fresh.txt")
    assert hashes.of(path, os.stat(path)) == _sha(b"new")
    assert hashes.learned == {}


def test_the_cache_keeps_them_per_root_until_a_prune(tmp_path: Path) -> None:
    cache = BuildCache(Database.open(tmp_path / "berth.db"))
    cache.remember_files({
        "/ctx/a": ("1:2:3:4:5", "a" * 64),
        "/ctx/sub/b": ("1:3:3:4:5", "b" * 64),
        "/ctx2/c": ("1:4:3:4:5", "c" * 64),
        "/ctx": ("1:5:3:4:5", "d" * 64),
    })  # fmt: skip
    assert cache.files_under("/ctx") == {
        "/ctx/a": ("1:2:3:4:5", "a" * 64),
        "/ctx/sub/b": ("1:3:3:4:5", "b" * 64),
    }
    assert cache.files_under("/ctx/") == cache.files_under("/ctx")
    assert list(cache.files_under("/ctx2")) == ["/ctx2/c"]
    cache.prune()
    assert cache.files_under("/") == {}


def test_packed_layers_fill_the_entries_that_only_measured_them(tmp_path: Path) -> None:
    """An export packs the layers its steps only measured; the cache entries naming them get
    the blob (others are left as they are), so a rebuild from the cache packs nothing."""
    cache = BuildCache(Database.open(tmp_path / "berth.db"))
    measured = {"diff_id": "sha256:" + "1" * 64, "content_size": 3, "epoch": None}
    other = {"diff_id": "sha256:" + "2" * 64, "content_size": 4, "epoch": 5}
    entry = {"created": "2026-01-01T00:00:00Z", "created_by": "RUN x"}
    cache.put("k1", "c1", {"additions": [[measured, entry]]}, "now")
    cache.put("k2", "c2", {"additions": [[measured, entry], [None, entry], [other, entry]]}, "now")
    cache.put("k3", "c3", {"additions": [[measured, entry]]}, "now")
    blob = {**measured, "digest": "sha256:" + "a" * 64, "size": 9, "mediaType": "gz"}
    cache.fill_blobs(["k1", "k2", "k2"], {measured["diff_id"]: blob})
    assert _additions(cache, "k1") == [[blob, entry]]
    assert _additions(cache, "k2") == [[blob, entry], [None, entry], [other, entry]]
    assert _additions(cache, "k3") == [[measured, entry]]  # not one of the keys given
    assert cache.roots()[1] == {blob["digest"]}


def _additions(cache: BuildCache, key: str) -> object:
    entry = cache.get(key)
    assert entry is not None
    return entry.result["additions"]


def test_entries_a_build_used_outlive_a_prune_of_older_ones(tmp_path: Path) -> None:
    """A build notes the entries it took from the cache once, at its end (`mark_used`); a
    prune of the entries used before a time keeps those."""
    database = Database.open(tmp_path / "berth.db")
    cache = BuildCache(database)
    for key in ("hit", "missed"):
        cache.put(key, None, {"additions": []}, "then")
    with database.transaction() as cursor:
        cursor.execute("UPDATE build_cache SET used = '2000-01-01T00:00:00Z'")
    assert cache.get("hit") is not None  # a read alone changes nothing
    cache.mark_used(["hit"])
    assert cache.prune("2001-01-01T00:00:00Z") == ["missed"]
    assert cache.get("hit") is not None
