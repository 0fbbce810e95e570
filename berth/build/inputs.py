"""What a build reads of its context directory, kept light for the CLI's quick path (os only,
no typing or pathlib): the text of a Dockerfile or an ignore file (`decode`), the ignore file
that applies (`ignore_text`), and the entries it lets a build see (`walk`). The builder's
`Context` and the replay's fingerprint (berth.build.replay) both see the context through here.
"""

from __future__ import annotations

import os
import posixpath
import stat

from berth.build.ignore import Matcher, ignore_file_for
from berth.errors import InvalidArgument, NotFound
from berth.sys.rootpath import resolve_in_root

TYPE_CHECKING = False  # typing costs the quick path ~2 ms
if TYPE_CHECKING:
    from collections.abc import Iterator

# A file changed this recently may change again unseen: a write within the same tick of the
# file system's clock, of the same size, could leave its `stat` as it was. Linux stamps files
# from its coarse clock (a tick is 1-10 ms); times in whole seconds (FAT, ext4's small inodes,
# some network file systems) take up to 2 s.
SETTLED_NS = 250_000_000
COARSE_SETTLED_NS = 2_000_000_000
SECOND_NS = 1_000_000_000


def settled(st: os.stat_result, now_ns: int) -> bool:
    """Whether a file last changed long enough before `now_ns` (nanoseconds since the epoch)
    that any later change shows in its `stat` (a digest read now may be remembered)."""
    coarse = st.st_mtime_ns % SECOND_NS == 0 and st.st_ctime_ns % SECOND_NS == 0
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    return now_ns - newest > (COARSE_SETTLED_NS if coarse else SETTLED_NS)


def decode(data: bytes, name: str) -> str:
    """A Dockerfile's or an ignore file's bytes as text (UTF-8, as BuildKit reads them; a BOM
    is the parser's to drop)."""
    try:
        return data.decode()
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"{name}: not UTF-8 text (byte {error.start})") from None


def remote(context: str) -> bool:
    """Whether a build's context is an http(s) URL (a tar, or a Dockerfile alone)."""
    return context.startswith(("http://", "https://"))


def read_dockerfile(context: str, path: str) -> tuple[bytes, str]:
    """The Dockerfile at `path`, and its path relative to the context directory."""
    try:
        with open(path, "rb") as stream:
            return stream.read(), os.path.relpath(path, context)
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"failed to read dockerfile: open {path}: no such file") from None


def ignore_text(root: str, dockerfile: str) -> str:
    """The text of the ignore file that applies to `dockerfile` (a path relative to the
    context `root`), "" when there is none."""

    def exists(relative: str) -> bool:
        return os.path.isfile(resolve_in_root(root, relative))

    chosen = ignore_file_for(dockerfile, exists)
    if chosen is None:
        return ""
    with open(resolve_in_root(root, chosen), "rb") as stream:
        return decode(stream.read(), chosen)


def walk(matcher: Matcher, relative: str, host: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """The descendants of the directory `host` (at `relative` in the context) the matcher
    does not exclude, as (host path, name relative to `host`, lstat); links as links."""
    stack = [("", host)]
    while stack:
        name, directory = stack.pop()
        for child in sorted(os.listdir(directory), reverse=True):
            inner = posixpath.join(name, child)
            context_path = posixpath.normpath(posixpath.join(relative, inner))
            path = os.path.join(directory, child)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                if matcher.skip_directory(context_path):
                    continue
                if not matcher.excluded(context_path):
                    yield path, inner, st
                stack.append((inner, path))
            elif not matcher.excluded(context_path):
                yield path, inner, st
