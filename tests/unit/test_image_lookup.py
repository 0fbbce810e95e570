"""How a name, an id or an id prefix finds an image in a real store database."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.db import Database
from berth.errors import InvalidArgument, NotFound
from berth.image.records import ImageStore
from berth.reference import parse

FIRST = "sha256:" + "ab12" + "0" * 60
SECOND = "sha256:" + "ab34" + "1" * 60
MANIFEST = "sha256:" + "f" * 64


@pytest.fixture
def images(tmp_path: Path) -> ImageStore:
    store = ImageStore(Database.open(tmp_path / "berth.db"))
    pulled_by = f"docker.io/library/busybox@{MANIFEST}"
    store.add(FIRST, MANIFEST, None, 10, "2026-01-01T00:00:00Z",
              tag=parse("busybox"), repo_digest=pulled_by)  # fmt: skip
    store.add(SECOND, MANIFEST, None, 20, "2026-01-02T00:00:00Z", tag=parse("app:2"),
              repo_digest=None)  # fmt: skip
    store.tag(SECOND, parse("example.com/team/app:2"))
    return store


def test_names_ids_and_prefixes_find_their_image(images: ImageStore) -> None:
    assert images.lookup("busybox").id == FIRST
    assert images.lookup("docker.io/library/busybox:latest").id == FIRST
    assert images.lookup(f"busybox@{MANIFEST}").id == FIRST
    assert images.lookup(FIRST).id == FIRST
    assert images.lookup("ab12").id == FIRST
    assert images.lookup("sha256:ab34").id == SECOND
    found = images.lookup("app:2")
    assert found.tags == ("docker.io/library/app:2", "example.com/team/app:2")
    assert found.digests == () and found.size == 20
    assert images.get(FIRST) == next(r for r in images.all() if r.id == FIRST)


def test_what_names_no_image_or_several_is_refused(images: ImageStore) -> None:
    with pytest.raises(InvalidArgument, match="ambiguous image id prefix"):
        images.lookup("ab")
    for text in ("app", "ab99", "sha256:" + "9" * 64, "AB12", "a%", "a_12"):
        with pytest.raises(NotFound, match="No such image"):
            images.lookup(text)
