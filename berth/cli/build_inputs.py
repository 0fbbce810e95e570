"""`build`'s inputs from the CLI's words: the context (a directory, or a tar or a Dockerfile
alone on stdin or at an http(s) URL), the Dockerfile, the secrets."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from berth.build.inputs import read_dockerfile, remote
from berth.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from berth.cli.context import Context

TAR_MAGIC_OFFSET = 257
COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


@contextlib.contextmanager
def sources(args: argparse.Namespace, ctx: Context) -> Iterator[tuple[bytes, str, Path | None]]:
    """(the Dockerfile's bytes, its path relative to the context, the context directory)."""
    scratch: Path | None = None
    try:
        if args.context == "-" or remote(args.context):
            data = _fetched(args.context, ctx) if args.context != "-" else sys.stdin.buffer.read()
            if _is_archive(data):
                scratch = _unpack_context(data, ctx)
                context: Path | None = scratch
            else:
                if args.file:
                    raise InvalidArgument("a Dockerfile on stdin can't be used with -f")
                yield data, "Dockerfile", None
                return
        else:
            context = Path(args.context)
            if not context.is_dir():
                raise NotFound(f'unable to prepare context: path "{args.context}" not found')
        assert context is not None
        if args.file == "-":
            yield sys.stdin.buffer.read(), "Dockerfile", context
            return
        dockerfile = Path(args.file) if args.file else context / "Dockerfile"
        if scratch is not None and args.file:
            dockerfile = scratch / args.file  # inside the context tar
        text, name = read_dockerfile(str(context), str(dockerfile))
        yield text, name, context
    finally:
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def secrets(args: argparse.Namespace, ctx: Context) -> Iterator[dict[str, str]]:
    """`--secret id=ID,src=PATH` (a file) or `id=ID,env=VAR` (a variable's value, written to
    a private file of the store's for the build's length): id -> file."""
    found: dict[str, str] = {}
    written: list[Path] = []
    try:
        for text in args.secret:
            fields = dict(item.partition("=")[::2] for item in text.split(","))
            name = fields.get("id") or ""
            source = fields.get("src") or fields.get("source")
            variable = fields.get("env")
            if not name or (source is None) == (variable is None):
                raise InvalidArgument(f"invalid secret {text!r}: id=ID,src=PATH or id=ID,env=VAR")
            if source is not None:
                if not os.path.isfile(source):
                    raise NotFound(f"secret {name}: {source} is not a file")
                found[name] = os.path.abspath(source)
                continue
            if variable not in os.environ:
                raise NotFound(f"secret {name}: ${variable} is not set")
            import tempfile

            tmp = ctx.layout.root / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            descriptor, secret = tempfile.mkstemp(prefix="build-secret-", dir=tmp)
            with os.fdopen(descriptor, "w") as out:
                out.write(os.environ[str(variable)])
            written.append(Path(secret))
            found[name] = secret
        yield found
    finally:
        for file in written:
            file.unlink(missing_ok=True)


def _fetched(url: str, ctx: Context) -> bytes:
    """A context (a tar, or a Dockerfile alone) from an http(s) URL."""
    import tempfile

    from berth.build.fetch import download

    tmp = ctx.layout.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-fetch-", dir=tmp) as directory:
        return download(url, Path(directory)).read_bytes()


def _is_archive(data: bytes) -> bool:
    return data.startswith(COMPRESSED) or data[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar"


def _unpack_context(data: bytes, ctx: Context) -> Path:
    """A context tar unpacked by the copy helper, chrooted into a fresh directory: no name in
    it (`../x`, an absolute link) lands outside."""
    import tempfile

    from berth.engine.build import unpack_context

    tmp = ctx.layout.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="build-context-", dir=tmp))
    unpack_context(directory, data)
    return directory
