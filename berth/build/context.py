"""The build context: the directory COPY and ADD read from, as the ignore file lets them see it.

A COPY's sources are resolved here, on the engine's side: each source path (wildcards as Go's
`filepath.Match`, per path component) inside the context root, `..` and symlinks never leading
out of it (`berth.sys.rootpath`); what the ignore file excludes does not exist for a COPY.
A source directory gives its contents, not itself. What is selected becomes `Entry`s named as
they land at the destination, hashed by content for the cache key (names, modes, targets and
bytes; never times), then listed for the copy helper, which copies each file inside the image
(`write_list`).
A file's bytes are read for its digest only when `stat` says it may have changed since a
build read them (`Hashes`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from berth.build.ignore import Matcher, clean
from berth.build.inputs import ignore_text, settled, walk
from berth.errors import InvalidArgument, NotFound
from berth.sys.rootpath import resolve_in_root

_WILDCARDS = frozenset("*?[")
CHUNK = 1 << 20


class Entry(NamedTuple):
    path: str  # the file's host path, inside the context
    name: str  # its name where it lands, relative to the extraction point ("" for the point)
    st: os.stat_result


class Selection(NamedTuple):
    entries: list[Entry]
    single_file: bool  # one file, not a directory's contents: it may take the dest's name


class Context:
    def __init__(
        self,
        root: Path,
        matcher: Matcher,
        remembered: dict[str, tuple[str, str]],
        ignore_text: str = "",
    ) -> None:
        self.root = str(root)
        self.matcher = matcher
        self.ignore_text = ignore_text  # the ignore file's, as read
        self.hashes = Hashes(self.root, remembered)

    @classmethod
    def open(cls, root: Path, dockerfile: str, remembered: dict[str, tuple[str, str]]) -> Context:
        """The context at `root`, with the ignore file that applies to `dockerfile` (a path
        relative to the root) and the digests of its files `remembered` by earlier builds."""
        if not root.is_dir():
            raise NotFound(f"unable to prepare context: path {str(root)!r} not found")
        text = ignore_text(str(root), dockerfile)
        return cls(root, Matcher.from_text(text), remembered, text)

    def host_path(self, relative: str) -> str:
        """A path of the context on the host (RUN --mount=type=bind's source): inside the
        root, and not excluded."""
        cleaned = posixpath.normpath(relative.lstrip("/") or ".")
        if cleaned == ".." or cleaned.startswith("../"):
            raise InvalidArgument(f"forbidden path outside the build context: {relative}")
        if cleaned != "." and self.matcher.excluded(cleaned):
            raise NotFound(f"{relative}: excluded by .dockerignore")
        host = self._inside(cleaned)
        if not os.path.lexists(host):
            raise NotFound(f"{relative}: not found in the build context")
        return host

    def visible(self) -> Iterator[Entry]:
        """Everything in the context the ignore file lets a COPY see (not followed into
        links), named relative to the root."""
        return self._contents(".", self.root)

    # -- COPY's sources --------------------------------------------------------------------

    def select(self, sources: Sequence[str]) -> Selection:
        """The entries a COPY of `sources` copies."""
        entries: list[Entry] = []
        matched: list[tuple[str, str]] = []  # (relative path, host path)
        for source in sources:
            found = self._expand(source)
            if not found:
                raise NotFound(
                    f"failed to compute cache key: {source!r}: not found in the build context "
                    "or excluded by .dockerignore"
                )
            matched.extend(found)
        single = len(matched) == 1 and not stat.S_ISDIR(os.stat(matched[0][1]).st_mode)
        for relative, host in matched:
            st = os.stat(host)  # a source itself is followed (inside the root)
            if stat.S_ISDIR(st.st_mode):
                entries.extend(self._contents(relative, host))
            else:
                entries.append(Entry(host, posixpath.basename(relative), st))
        return Selection(entries, single)

    def _inside(self, relative: str) -> str:
        cleaned = clean("/" + relative)
        return resolve_in_root(self.root, cleaned)

    def _expand(self, source: str) -> list[tuple[str, str]]:
        """A source's matches: (path relative to the root, host path), excluded ones left out."""
        relative = posixpath.normpath(source.lstrip("/") or ".")
        if relative == ".." or relative.startswith("../"):
            raise InvalidArgument(f"forbidden path outside the build context: {source}")
        cleaned = clean("/" + source).lstrip("/")
        if not _WILDCARDS.intersection(cleaned):
            host = self._inside(cleaned)
            if not os.path.lexists(host) or (cleaned and self.matcher.excluded(cleaned)):
                return []
            return [(cleaned or ".", host)]
        found: list[str] = [""]
        for part in cleaned.split("/"):
            found = [
                posixpath.join(prefix, name)
                for prefix in found
                for name in self._names(prefix)
                if _matches(name, part)
            ]
        return [(path, self._inside(path)) for path in found if not self.matcher.excluded(path)]

    def _names(self, relative: str) -> list[str]:
        host = self._inside(relative)
        if not os.path.isdir(host):
            return []
        return sorted(os.listdir(host))

    def _contents(self, relative: str, host: str) -> Iterator[Entry]:
        """A directory's descendants not excluded, named relative to it; symlinks as links."""
        for path, name, st in walk(self.matcher, relative, host):
            yield Entry(path, name, st)


def _matches(name: str, pattern: str) -> bool:
    """Go's `filepath.Match` for one path component (`[^a]` is fnmatch's `[!a]`)."""
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


class Hashes:
    """Content digests of the context's files, remembered across builds by what `stat` says
    of each (device, inode, size, modify and change times), as BuildKit and git do: a file
    is read again only when one of those changed. `learned`: what this build found, for the
    build cache to keep (files under `root` only, settled ones only)."""

    def __init__(self, root: str, remembered: dict[str, tuple[str, str]]) -> None:
        self._root = root.rstrip("/") + "/" if root else ""
        self._remembered = remembered
        self.learned: dict[str, tuple[str, str]] = {}

    def of(self, path: str, st: os.stat_result) -> str:
        identity = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        known = self._remembered.get(path)
        if known is not None and known[0] == identity:
            return known[1]
        hasher = hashlib.sha256()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
        found = hasher.hexdigest()
        if self._root and path.startswith(self._root) and settled(st, time.time_ns()):
            self.learned[path] = (identity, found)
        return found


def digest(selection: Selection, mode: int | None, hashes: Hashes) -> str:
    """The selection's content digest: names, types, modes, link targets and bytes, in order."""
    hasher = hashlib.sha256()
    for entry in sorted(selection.entries, key=lambda e: e.name):
        st = entry.st
        bits = mode if mode is not None else stat.S_IMODE(st.st_mode)
        hasher.update(f"{entry.name}\0{stat.S_IFMT(st.st_mode)}\0{bits}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            hasher.update(os.readlink(entry.path).encode())
        elif stat.S_ISREG(st.st_mode):
            hasher.update(hashes.of(entry.path, st).encode())
        hasher.update(b"\0")
    return "sha256:" + hasher.hexdigest()


def write_list(selection: Selection, out: IO[bytes], *, mode: int | None) -> None:
    """The selection as the copy helper's list of host files to copy (`berth.container.
    build_copy.copy_files`), one JSON line each: what a tar entry of it would say, with the
    file's host path and identity instead of its bytes."""
    import json

    for entry in selection.entries:
        if not entry.name:
            continue
        st = entry.st
        bits = mode if mode is not None else stat.S_IMODE(st.st_mode)
        link = ""
        if stat.S_ISDIR(st.st_mode):
            kind = "dir"
        elif stat.S_ISLNK(st.st_mode):
            kind, link = "link", os.readlink(entry.path)
        elif stat.S_ISREG(st.st_mode):
            kind = "file"
        else:
            raise InvalidArgument(f"cannot copy {entry.name}: not a file, directory or link")
        line = [entry.name, kind, bits, int(st.st_mtime), entry.path, st.st_dev, st.st_ino, link]
        out.write(json.dumps(line).encode() + b"\n")
