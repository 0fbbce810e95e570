"""A rebuild with nothing changed, answered from the replay an earlier build noted
(berth.build.replay), on a real store with real builds. The CLI's quick path is called in
process to tell which way a build goes: 0 is the replay's answer, None leaves the build to
the builder (which the test then runs, as the CLI would)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from berth.cli.commands import build
from tests.fixtures.store import Berth

DOCKERFILE = """\
FROM busybox AS data
COPY data/ /data/
RUN cat /data/* > /all.txt
FROM busybox
ARG NOTE=one
COPY --from=data /all.txt /
COPY top.txt /
RUN echo "$NOTE" > /note.txt
CMD ["cat", "/all.txt", "/top.txt", "/note.txt"]
"""


def _context(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.txt").write_text("a\n")
    (root / "data" / "b.txt").write_text("b\n")
    (root / "top.txt").write_text("top\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    time.sleep(0.3)  # settled (berth.build.inputs.SETTLED_NS): a build may note it
    return root


def _built(berth: Berth, *words: str) -> str:
    result = berth("build", *words, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stderr


def _replayed(berth: Berth, words: list[str]) -> int | None:
    store = berth.store
    return build.quick(str(store.root), str(store.runroot), words)


def _image_id(berth: Berth, name: str) -> str:
    return berth("image", "inspect", "-f", "{{.Id}}", name).stdout.strip()


def _titles(output: str) -> list[str]:
    """The steps a build showed, without their numbers, and how each ended."""
    shown = []
    for line in output.splitlines():
        number, _, rest = line.partition(" ")
        step = number.startswith("#") and number != "#0"
        if step and (rest.startswith("[") or rest in ("CACHED", "DONE 0.0s")):
            shown.append(rest)
    return sorted(shown)


def test_an_unchanged_rebuild_is_replayed(
    berth: Berth, busybox: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context = _context(tmp_path / "app")
    words = ["-t", "app:1", "-t", "app:latest", str(context)]
    assert _replayed(berth, words) is None  # nothing noted yet
    _built(berth, *words)
    image_id = _image_id(berth, "app:1")
    by_the_builder = _built(berth, *words)  # all from the cache, as the builder shows it
    assert by_the_builder.count(" CACHED\n") == 6

    berth("tag", busybox, "app:1")  # the tag moved away: the replay puts it back
    capsys.readouterr()
    assert _replayed(berth, words) == 0
    shown = capsys.readouterr()
    assert _titles(shown.err) == _titles(by_the_builder)
    assert f"#0 writing image {image_id} done\n" in shown.err
    assert "#0 naming to app:1 done\n#0 naming to app:latest done\n" in shown.err
    assert _image_id(berth, "app:1") == _image_id(berth, "app:latest") == image_id
    ran = berth("run", "--rm", "app:1")
    assert ran.stdout == "a\nb\ntop\none\n", ran.stderr

    assert _replayed(berth, ["--progress", "tty", *words]) == 0  # BuildKit's view
    viewed = capsys.readouterr().err
    assert " => CACHED [stage-1 5/6] RUN echo" in viewed and "(9/9)" in viewed

    iidfile = tmp_path / "iid"
    assert _replayed(berth, ["-q", "--iidfile", str(iidfile), *words]) == 0
    quiet = capsys.readouterr()
    assert (quiet.out, quiet.err) == (image_id + "\n", "")
    assert iidfile.read_text() == image_id

    # Asked otherwise (another tag, a build arg): the builder builds, and notes that too.
    assert _replayed(berth, ["-t", "app:2", str(context)]) is None
    assert _replayed(berth, ["--build-arg", "NOTE=two", *words]) is None
    _built(berth, "--build-arg", "NOTE=two", *words)
    assert berth("run", "--rm", "app:1").stdout == "a\nb\ntop\ntwo\n"
    assert _replayed(berth, ["--build-arg", "NOTE=two", *words]) == 0
    assert _replayed(berth, words) == 0  # each way of asking keeps its own
    assert _image_id(berth, "app:1") == image_id


def _built_once(berth: Berth, root: Path) -> tuple[Path, list[str]]:
    """A settled context built as `app:1` (noted), and the build's words."""
    context = _context(root)
    words = ["-t", "app:1", str(context)]
    _built(berth, *words)
    return context, words


def test_a_change_leaves_the_rebuild_to_the_builder(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    context, words = _built_once(berth, tmp_path / "app")
    assert _replayed(berth, words) == 0
    (context / "data" / "c.txt").write_text("c\n")
    assert _replayed(berth, words) is None
    _built(berth, *words)  # just changed: built, not noted (it may still change unseen)
    assert berth("run", "--rm", "app:1").stdout == "a\nb\nc\ntop\none\n"
    assert _replayed(berth, words) is None
    (context / "Dockerfile").write_text(DOCKERFILE.replace("echo", "echo -n"))
    assert _replayed(berth, words) is None


def test_what_the_store_lost_leaves_the_rebuild_to_the_builder(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    _, words = _built_once(berth, tmp_path / "app")
    image_id = _image_id(berth, "app:1")
    base_id = _image_id(berth, busybox)

    # The base tag moved to another image: the build would start from it.
    berth("tag", image_id, busybox)
    assert _replayed(berth, words) is None
    berth("tag", base_id, busybox)
    assert _replayed(berth, words) == 0

    # The image removed: the builder writes it again from the cache, and notes it.
    assert berth("rmi", "app:1").returncode == 0
    assert _replayed(berth, words) is None
    assert _built(berth, *words).count(" CACHED\n") == 6
    assert _replayed(berth, words) == 0

    # The build cache pruned: every step runs again.
    assert berth("builder", "prune", "-f").returncode == 0
    assert _replayed(berth, words) is None
    assert _built(berth, *words).count(" CACHED\n") == 0
    assert _replayed(berth, words) == 0

    # One cache entry gone (a damaged store): the steps from there on run again.
    database = sqlite3.connect(berth.store.root / "berth.db")
    with database:
        database.execute(
            "DELETE FROM build_cache WHERE key IN (SELECT key FROM build_cache LIMIT 1)"
        )
    assert _replayed(berth, words) is None

    # A damaged replay is only a miss; the build notes it anew.
    _built(berth, *words)
    with database:
        database.execute("UPDATE build_replays SET document = '{\"bases\": 7}'")
    assert _replayed(berth, words) is None
    _built(berth, *words)
    assert _replayed(berth, words) == 0
    database.close()
    assert berth("run", "--rm", "app:1").stdout == "a\nb\ntop\none\n"
