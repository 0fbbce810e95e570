"""Builds that read other images and stages: `--cache-from IMAGE` (an image built with
`BUILDKIT_INLINE_CACHE=1`, pushed and pulled back into a store whose build cache is empty, is
the cache of the next build — the CI machine's case) and `RUN --mount=type=bind,from=…`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_build import _cached, _context, _image_id, _ok
from tests.fixtures.registry import RunningRegistry
from tests.fixtures.store import Berth

DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR $APP
COPY base.txt .
RUN echo ran > ran.txt && cat base.txt >> ran.txt
COPY top.txt .
RUN cat top.txt >> ran.txt
CMD ["cat", "/app/ran.txt"]
"""
STEPS = 7  # after FROM


def test_a_pulled_image_with_an_inline_cache_rebuilds_nothing_unchanged(
    berth: Berth, busybox: str, empty_registry: RunningRegistry, tmp_path: Path
) -> None:
    context = _context(tmp_path / "ctx", DOCKERFILE, **{"base.txt": "base\n", "top.txt": "top\n"})
    remote = f"{empty_registry.host}/ci/app:latest"
    _ok(berth, context, "--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", remote)
    built = _image_id(berth, remote)
    assert berth("push", "-q", remote).returncode == 0
    # A fresh CI machine: no build cache, no image, only the registry.
    assert berth("rmi", remote).returncode == 0
    assert berth("builder", "prune", "-af").returncode == 0
    assert berth("pull", "-q", remote).returncode == 0

    inline = ("--build-arg", "BUILDKIT_INLINE_CACHE=1")  # as the build that made it
    output = _ok(berth, context, *inline, "--cache-from", remote, "-t", "app:again")
    assert _cached(output) == STEPS, output
    assert _image_id(berth, "app:again") == built  # the same image, nothing ran

    (context / "top.txt").write_text("changed\n")
    output = _ok(berth, context, "--cache-from", remote, "-t", "app:changed")
    assert _cached(output) == 4, output  # ENV, WORKDIR, COPY base.txt and the first RUN
    run = berth("run", "--rm", "--network", "none", "app:changed")
    assert run.stdout == "ran\nbase\nchanged\n", run.stderr


def test_images_without_an_inline_cache_or_missing_are_no_cache(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    context = _context(tmp_path / "ctx", DOCKERFILE, **{"base.txt": "b\n", "top.txt": "t\n"})
    _ok(berth, context, "-t", "plain:1")
    assert berth("builder", "prune", "-af").returncode == 0
    output = _ok(berth, context, "--cache-from", "plain:1", "--cache-from", "nowhere:1")
    assert _cached(output) == 0, output
    assert "cache-from nowhere:1 skipped" in output


def test_run_mounts_another_stages_files_read_only_or_writable_and_discarded(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    """`RUN --mount=type=bind,from=STAGE|IMAGE,source=…,target=…[,rw]`: the files are there
    for the step, owners kept; writes to an rw one are discarded; nothing of them enters the
    layer; the stage's content keys the cache."""
    dockerfile = """\
FROM busybox AS deps
RUN mkdir -p /out && echo dep-one > /out/one && chown 1234:5678 /out/one
FROM busybox
RUN --mount=type=bind,from=deps,source=/out,target=/deps \\
    cat /deps/one > /copied && stat -c '%u:%g' /deps/one >> /copied \\
    && ! touch /deps/new 2>/dev/null && echo read-only >> /copied
RUN --mount=type=bind,from=deps,source=/out/one,target=/one.txt,rw \\
    echo scribbled > /one.txt && cat /one.txt >> /copied
RUN --mount=type=bind,from=busybox,source=/bin/busybox,target=/bb ls -l /bb > /dev/null
CMD ["cat", "/copied"]
"""
    context = _context(tmp_path / "ctx", dockerfile)
    _ok(berth, context, "-t", "mounted:1")
    run = berth("run", "--rm", "--network", "none", "mounted:1")
    assert run.stdout == "dep-one\n1234:5678\nread-only\nscribbled\n", run.stderr
    listing = berth(
        "run", "--rm", "--network", "none", "mounted:1", "ls", "/deps", "/one.txt", "/bb"
    )
    assert "No such file" in listing.stderr  # the mount points left no trace
    assert _cached(_ok(berth, context, "-t", "mounted:2")) == 5  # RUN deps + the three + CMD
    changed = dockerfile.replace("dep-one", "dep-two")
    (context / "Dockerfile").write_text(changed)
    output = _ok(berth, context, "-t", "mounted:3")
    assert _cached(output) == 0, output  # the stage's new content keys the RUNs after it
    assert berth("run", "--rm", "--network", "none", "mounted:3").stdout.startswith("dep-two\n")


def test_a_mount_of_a_missing_path_is_a_clear_error(
    berth: Berth, busybox: str, tmp_path: Path
) -> None:
    dockerfile = (
        "FROM busybox AS deps\nFROM busybox\n"
        "RUN --mount=type=bind,from=deps,source=/nope,target=/x true\n"
    )
    context = _context(tmp_path / "ctx", dockerfile)
    result = berth("build", "-t", "broken:1", str(context))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "/nope" in result.stderr, result.stderr
    assert berth("ps", "-aq").stdout == ""
