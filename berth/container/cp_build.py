"""A build's COPY, the engine's side: the copy helper started on the step's snapshot (and,
for COPY --from, the source's), with the tar it places written to it. The helper's side is
`berth.container.build_copy`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from berth.container.cp import HELPER, Helper, Root, feed_helper, finish_helper
from berth.errors import SystemFailure

if TYPE_CHECKING:
    from berth.container.copy_client import CopyServer


def copy_in(
    root: Root,
    dest: str,
    write: Callable[[IO[bytes]], object],
    *,
    file_name: str | None = None,
    strip: str | None = None,
    chown: str | None = None,
    keep_owners: bool = False,
    server: CopyServer | None = None,
) -> None:
    """A build's COPY into the snapshot `root` mounts: `write` writes the tar the helper
    places at `dest` (see `berth.container.build_copy`); `keep_owners`: the tar's owners
    stay (a context unpacked), else root's or `chown`'s."""
    request = {
        "op": "build_copy",
        "path": dest,
        "file_name": file_name,
        "strip": strip,
        "chown": chown,
        "keep_owners": keep_owners,
    }
    feed_helper(root, request, write, server=server)


def copy_files(
    root: Root,
    dest: str,
    write: Callable[[IO[bytes]], object],
    *,
    file_name: str | None = None,
    chown: str | None = None,
    server: CopyServer | None = None,
) -> None:
    """A build's COPY of host files into the snapshot `root` mounts: `write` writes their
    list (`berth.build.context.write_list`), the helper reads each file itself (see
    `berth.container.build_copy.copy_files`): no tar made here and taken apart there."""
    request = {"op": "build_copy_files", "path": dest, "file_name": file_name, "chown": chown}
    feed_helper(root, request, write, server=server)


def copy_between(
    root: Root,
    source: Root,
    dest: str,
    sources: list[str],
    *,
    several: bool,
    chown: str | None,
    server: CopyServer | None = None,
) -> None:
    """COPY --from: `sources` of the snapshot `source` mounts, placed at `dest` in the one
    `root` mounts, by one helper (see `berth.container.copier`); owners kept unless
    `chown`, as BuildKit keeps them."""
    request = {
        "op": "build_copy_from",
        "root": root.path,
        "mount": root.mount,
        "source_root": source.path,
        "source_mount": source.mount,
        "sources": sources,
        "path": dest,
        "several": several,
        "chown": chown,
        "keep_owners": chown is None,
    }
    status_r, status_w = os.pipe()
    helper: Helper
    try:
        if server is not None:
            helper = server.start({**request}, status_w, stdin=False, stdout=False)
        else:
            helper = subprocess.Popen(
                [*HELPER, json.dumps({**request, "status_fd": status_w})],
                pass_fds=(status_w,),
                close_fds=True,
            )
    except OSError as error:
        raise SystemFailure(f"cannot start the copy helper: {error}") from None
    finally:
        os.close(status_w)
    finish_helper(helper, status_r, "from")
