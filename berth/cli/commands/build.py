"""`berth build [OPTIONS] PATH | URL | -`: an image from a Dockerfile, as `docker build`
(BuildKit) makes one. Progress goes to stderr: BuildKit's live view on a terminal, its plain
lines otherwise; `-q` prints only the image id.

PATH is the context directory; `-` reads a context tar (or a Dockerfile alone) from stdin, an
http(s) URL gives one too;
`-f FILE` names the Dockerfile (relative to the current directory; `-f -`: stdin).
`SOURCE_DATE_EPOCH` (in the environment or as a build arg) makes the build reproducible.
"""

from __future__ import annotations

import os
import sys

from berth.errors import BerthError, InvalidArgument

TYPE_CHECKING = False  # typing, argparse, pathlib, the CLI's context: not on the quick path
if TYPE_CHECKING:
    import argparse
    from typing import TypedDict

    from berth.build.options import Options
    from berth.build.replay import Fingerprint
    from berth.cli.context import Context

    class Asked(TypedDict):
        tags: list[str]
        build_args: dict[str, str]
        target: str | None
        labels: dict[str, str]
        network: str
        epoch: int | None
        inline_cache: bool


# The flags the quick path takes (`quick`), by the parser's names; any other: the builder runs.
QUICK_VALUED = {
    "-t": "tag",
    "--tag": "tag",
    "-f": "file",
    "--file": "file",
    "--build-arg": "build_arg",
    "--target": "target",
    "--label": "label",
    "--network": "network",
    "--iidfile": "iidfile",
    "--progress": "progress",
}
QUICK_SWITCHES = {"-q": "quiet", "--quiet": "quiet", "--rm": "rm", "--force-rm": "force_rm"}
PROGRESS_CHOICES = ("auto", "plain", "tty")


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    from berth.cli.parser import new_parser

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
    parser.add_argument("--progress", default="auto", choices=PROGRESS_CHOICES)
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


def quick(root: str | None, runroot: str | None, words: list[str]) -> int | None:
    """A rebuild with nothing changed, answered from the replay an earlier build noted
    (berth.build.replay) without the builder. None: the builder runs, and says what is
    wrong if anything is (a flag this path leaves to it, a change, anything gone)."""
    import sqlite3

    from berth import store_choice
    from berth.build.inputs import read_dockerfile
    from berth.build.progress import PlainProgress
    from berth.build.replay import show
    from berth.build.replay_records import answer
    from berth.db import direct

    asked = _quick_words(words)
    if asked is None or not os.path.isdir(asked.context):
        return None
    connection = None
    try:
        path = asked.file or os.path.join(asked.context, "Dockerfile")
        dockerfile = read_dockerfile(asked.context, path)
        found = _fingerprint(asked, _asked(asked), *dockerfile, fresh=True)
        if found is not None:
            connection = direct.connect(*store_choice.chosen(root, runroot))
        replay = answer(connection, found) if connection and found else None
        if replay is None:
            return None
        if asked.iidfile:
            with open(asked.iidfile, "w") as out:
                out.write(replay.image_id)
    except (BerthError, OSError, sqlite3.Error):
        return None
    finally:
        if connection:
            connection.close()
    if _live(asked):
        from berth.cli.build_view import TtyProgress

        view = TtyProgress(sys.stderr)
        try:
            show(replay, view)
        finally:
            view.close()
    else:
        show(replay, PlainProgress(sys.stderr, quiet=asked.quiet))
    if asked.quiet:
        sys.stdout.write(replay.image_id + "\n")
    return 0


class _Asked:
    """`build`'s flags as the parser gives them, for the quick path's words."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.tag: list[str] = []
        self.file: str | None = None
        self.build_arg: list[str] = []
        self.target: str | None = None
        self.label: list[str] = []
        self.network = "default"
        self.iidfile: str | None = None
        self.progress = "auto"
        self.quiet = False


def _quick_words(words: list[str]) -> _Asked | None:
    """The words' flags if the quick path takes them all (a context directory, no `-f -`)."""
    from berth.build.inputs import remote

    values: dict[str, list[str]] = {}
    switches: set[str] = set()
    positional: list[str] = []
    remaining = iter(words)
    for word in remaining:
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        flag, equals, value = word.partition("=")
        if flag in QUICK_SWITCHES and not equals:
            switches.add(QUICK_SWITCHES[flag])
        elif flag in QUICK_VALUED and (not equals or flag.startswith("--")):
            value = value if equals else next(remaining, "-")
            if value.startswith("-"):
                return None  # a missing value, or one the parser may read otherwise
            values.setdefault(QUICK_VALUED[flag], []).append(value)
        else:
            return None
    if len(positional) != 1 or positional[0] == "-" or remote(positional[0]):
        return None
    asked = _Asked(positional[0])
    for name, given in values.items():
        setattr(asked, name, given if isinstance(getattr(asked, name), list) else given[-1])
    asked.quiet = "quiet" in switches
    if asked.progress not in PROGRESS_CHOICES:
        return None
    return asked


def _asked(args: argparse.Namespace | _Asked) -> Asked:
    """The flags that choose the image, as the build reads them (`--build-arg NAME` from the
    environment, SOURCE_DATE_EPOCH), the tags as given: what a replay's slot is made of."""
    from berth.build.build_args import special_args

    build_args = _pairs(args.build_arg, "build arg", from_env=True)
    epoch, inline_cache = special_args(build_args, os.environ)
    return {
        "tags": args.tag,
        "build_args": build_args,
        "target": args.target,
        "labels": _pairs(args.label, "label", from_env=False),
        "network": args.network,
        "epoch": epoch,
        "inline_cache": inline_cache,
    }


# The quick path's last fingerprint, handed to the build that runs when the quick path can't
# answer (the same command, a moment later): taken before the build reads any file, it serves
# it as well, and the context is walked once.
_handed: dict[tuple[str, str, str, bytes], Fingerprint | None] = {}


def _fingerprint(
    args: argparse.Namespace | _Asked,
    asked: Asked,
    dockerfile: bytes,
    name: str,
    *,
    fresh: bool = False,
) -> Fingerprint | None:
    """What the build asked for and what it can read (berth.build.replay). `fresh`: taken
    now (the quick path's), else the one the quick path handed over for the same build."""
    import json

    from berth.build.replay import fingerprint

    root = os.path.realpath(args.context)
    key = (root, name, json.dumps(asked, sort_keys=True), dockerfile)
    if not fresh and key in _handed:
        return _handed.pop(key)
    found = fingerprint(root, dockerfile, name, asked)
    if fresh:
        _handed.clear()
        _handed[key] = found
    return found


def _options(args: argparse.Namespace, asked: Asked) -> Options:
    """The build's options from its flags and what `_asked` read of them."""
    from berth.build.options import Options
    from berth.reference import parse

    if args.platform:
        from berth.oci import host_platform

        platform = host_platform()
        if args.platform not in (platform.os + "/" + platform.architecture, platform.os):
            raise InvalidArgument(f"only this host's platform can be built: {args.platform}")
    return Options(
        tags=tuple(parse(tag) for tag in args.tag),
        build_args=asked["build_args"],
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        labels=asked["labels"],
        network=args.network,
        epoch=asked["epoch"],
        cache_from=tuple(args.cache_from),
        inline_cache=asked["inline_cache"],
    )


def _live(args: argparse.Namespace | _Asked) -> bool:
    """BuildKit's live view (on a terminal, unless asked otherwise), or plain lines."""
    return not args.quiet and (
        args.progress == "tty" or (args.progress == "auto" and sys.stderr.isatty())
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    import signal

    from berth.build.progress import PlainProgress
    from berth.cli.build_inputs import secrets, sources

    asked = _asked(args)
    options = _options(args, asked)
    signal.signal(signal.SIGTERM, _interrupted)  # as Ctrl-C: the running steps stop, cleaned
    with sources(args, ctx) as (dockerfile, name, context), secrets(args, ctx) as found:
        options = options._replace(secrets=found)
        if context is not None and _replayable(args):
            options = options._replace(replay=_fingerprint(args, asked, dockerfile, name))
        builder = ctx.engine.build
        if _live(args):
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
        with open(args.iidfile, "w") as out:
            out.write(image_id)
    if args.quiet:
        ctx.stdout.write(image_id + "\n")
    return 0


def _replayable(args: argparse.Namespace) -> bool:
    """Whether a build may be noted for the quick path to replay: a context directory and a
    Dockerfile of its own, no secrets, no other images' caches."""
    from berth.build.inputs import remote

    plain = args.context != "-" and not remote(args.context) and args.file != "-"
    return plain and not args.secret and not args.cache_from


def _interrupted(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt
