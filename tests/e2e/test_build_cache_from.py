"""`berth build --cache-from IMAGE`: an image built with `BUILDKIT_INLINE_CACHE=1`, pushed and
pulled back into a store whose build cache is empty, is the cache of the next build — the CI
machine's case."""

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
