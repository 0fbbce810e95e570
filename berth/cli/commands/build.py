"""`berth build [OPTIONS] PATH | URL | -`: an image from a Dockerfile, as `docker build`
(BuildKit) makes one. Progress goes to stderr: BuildKit's live view on a terminal, its plain
lines otherwise; `-q` prints only the image id.

PATH is the context directory; `-` reads a context tar (or a Dockerfile alone) from stdin, an
http(s) URL gives one too;
`-f FILE` names the Dockerfile (relative to the current directory; `-f -`: stdin).
`SOURCE_DATE_EPOCH` (in the environment or as a build arg) makes the build reproducible.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument, NotFound

TAR_MAGIC_OFFSET = 257
COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("context", metavar="PATH | URL | -")
    parser.add_argument("-t", "--tag", action="append", default=[], help="Name and tag")
    parser.add_argument("-f", "--file", help="Name of the Dockerfile (default: PATH/Dockerfile)")
    parser.add_argument("--build-arg", action="append", default=[], help="Set build-time variables")
    parser.add_argument("--target", help="Set the target build stage to build")
    parser.add_argument("--no-cache", action="store_true", help="Do not use cache")
    parser.add_argument(
        "--cache-from",
        action="append",
        default=[],
        metavar="IMAGE",
        help="Images to consider as cache sources (built with BUILDKIT_INLINE_CACHE=1)",
    )
    parser.add_argument("--pull", action="store_true", help="Always pull the base images")
    parser.add_argument("--label", action="append", default=[], help="Set metadata for an image")
    parser.add_argument("--network", default="default", help="Networking mode for RUN")
    parser.add_argument("--platform", help="Set platform (this host's only)")
    parser.add_argument("-q", "--quiet", action="store_true", help="Print the image ID on success")
    parser.add_argument("--iidfile", help="Write the image ID to the file")
    parser.add_argument("--progress", default="auto", choices=("auto", "plain", "tty"))
    parser.add_argument(
        "--secret", action="append", default=[], help="Secret to expose: id=ID,src=PATH|env=VAR"
    )
    parser.add_argument("--rm", action="store_true", help="(always: containers are removed)")
    parser.add_argument("--force-rm", action="store_true", help="(always)")
    return parser


def _pairs(items: list[str], what: str, *, from_env: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {item!r}")
        if not equals and from_env:
            if key not in os.environ:
                continue  # `--build-arg NAME` takes NAME's value from the environment, if set
            value = os.environ[key]
        found[key] = value
    return found


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth.build.options import Options, special_args
    from berth.build.progress import PlainProgress
    from berth.oci import host_platform
    from berth.reference import parse

    if args.platform:
        platform = host_platform()
        if args.platform not in (platform.os + "/" + platform.architecture, platform.os):
            raise InvalidArgument(f"only this host's platform can be built: {args.platform}")
    build_args = _pairs(args.build_arg, "build arg", from_env=True)
    epoch, inline_cache = special_args(build_args, os.environ)
    options = Options(
        tags=tuple(parse(tag) for tag in args.tag),
        build_args=build_args,
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        labels=_pairs(args.label, "label", from_env=False),
        network=args.network,
        epoch=epoch,
        cache_from=tuple(args.cache_from),
        inline_cache=inline_cache,
    )
    signal.signal(signal.SIGTERM, _interrupted)  # as Ctrl-C: the running steps stop, cleaned
    live = not args.quiet and (
        args.progress == "tty" or (args.progress == "auto" and sys.stderr.isatty())
    )
    with _sources(args, ctx) as (dockerfile, name, context), _secrets(args, ctx) as secrets:
        options = options._replace(secrets=secrets)
        builder = ctx.engine.build
        if live:
            from berth.cli.build_view import TtyProgress

            view = TtyProgress(sys.stderr)
            try:
                image_id = builder.build(
                    dockerfile, name, context, options, view, copier=ctx.take_copier()
                )
            finally:
                view.close()
        else:
            progress = PlainProgress(sys.stderr, quiet=args.quiet)
            image_id = builder.build(
                dockerfile, name, context, options, progress, copier=ctx.take_copier()
            )
    if args.iidfile:
        Path(args.iidfile).write_text(image_id)
    if args.quiet:
        ctx.stdout.write(image_id + "\n")
    return 0


def _interrupted(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sources(args: argparse.Namespace, ctx: Context) -> Iterator[tuple[bytes, str, Path | None]]:
    """(the Dockerfile's bytes, its path relative to the context, the context directory)."""
    scratch: Path | None = None
    try:
        remote = args.context.startswith(("http://", "https://"))
        if args.context == "-" or remote:
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
        try:
            text = dockerfile.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"failed to read dockerfile: open {dockerfile}: no such file") from None
        name = os.path.relpath(dockerfile.absolute(), context.absolute())
        yield text, name, context
    finally:
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _secrets(args: argparse.Namespace, ctx: Context) -> Iterator[dict[str, str]]:
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
