"""The ctypes mount shims against the real kernel, and their errors as berth kinds."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from berth.errors import InvalidArgument, NotFound, SystemFailure
from berth.sys import MNT_DETACH, bind, mount, mount_overlay, umount
from tests.fixtures.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as info:
        return any(line.split()[4] == str(path) for line in info)


def test_tmpfs_mount_and_umount(store: Store) -> None:
    target = store.mountpoint / "t"
    target.mkdir()
    mount("berth-test", target, "tmpfs", 0, "size=1m,mode=0700")
    try:
        assert mounted(target)
        assert oct(target.stat().st_mode & 0o777) == oct(0o700)
    finally:
        umount(target)
    assert not mounted(target)


def test_readonly_bind(store: Store) -> None:
    source, target = store.mountpoint / "src", store.mountpoint / "dst"
    source.mkdir()
    target.mkdir()
    (source / "f").write_text("x")
    bind(source, target, readonly=True)
    try:
        assert (target / "f").read_text() == "x"
        with pytest.raises(OSError, match="Read-only"):
            (target / "g").write_text("y")
    finally:
        umount(target, MNT_DETACH)


def test_single_lower_readonly_view_and_writable_overlay(store: Store) -> None:
    lower, upper, work, view = (store.mountpoint / n for n in ("lower", "upper", "work", "view"))
    for path in (lower, upper, work, view):
        path.mkdir()
    (lower / "f").write_text("lower\n")
    mount_overlay([lower], None, None, view, readonly=True)
    try:
        assert (view / "f").read_text() == "lower\n"
        with pytest.raises(OSError, match="Read-only"):
            (view / "g").write_text("y")
    finally:
        umount(view)
    mount_overlay([lower], upper, work, view)
    try:
        (view / "f").write_text("changed\n")
        assert (upper / "f").read_text() == "changed\n"
        assert (lower / "f").read_text() == "lower\n"
    finally:
        umount(view)


def test_writable_overlay_needs_an_upper(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        mount_overlay([store.mountpoint], None, None, store.mountpoint)


def test_errors_become_berth_kinds_with_the_oserror_as_cause(store: Store) -> None:
    with pytest.raises(NotFound):
        mount("none", store.mountpoint / "missing", "tmpfs")
    with pytest.raises(SystemFailure) as raised:
        umount(store.mountpoint / "root")  # a directory, not a mount point
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.EINVAL
