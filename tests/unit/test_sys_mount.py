"""Overlay mount options: layer order, separators and the kernel's one-page limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.sys import overlay_options


def test_lowerdirs_keep_the_given_order_topmost_first() -> None:
    options = overlay_options([Path("/s/3/fs"), Path("/s/2/fs"), Path("/s/1/fs")], None, None)
    assert options == "lowerdir=/s/3/fs:/s/2/fs:/s/1/fs"


def test_upper_and_work_are_appended() -> None:
    options = overlay_options([Path("/s/1/fs")], Path("/s/2/fs"), Path("/s/2/work"))
    assert options == "lowerdir=/s/1/fs,upperdir=/s/2/fs,workdir=/s/2/work"


@pytest.mark.parametrize("bad", ["/a,b", "/a:b", "/a\\b"])
def test_separators_in_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        overlay_options([Path(bad)], None, None)


def test_upper_without_work_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        overlay_options([Path("/l")], Path("/u"), None)


def test_no_lowerdirs_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        overlay_options([], None, None)


def test_options_over_a_page_are_refused() -> None:
    lowers = [Path(f"/var/lib/berth/snapshots/{n}/fs") for n in range(200)]
    with pytest.raises(InvalidArgument):
        overlay_options(lowers, None, None)
