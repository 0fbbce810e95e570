"""`POST /build` (the classic builder's API: a tar context in, a JSON message stream out, as
`DOCKER_BUILDKIT=0 docker build` and docker-py's `images.build` use it), `POST /commit` and
`POST /build/prune`.

The context is unpacked as it arrives, by the copy helper chrooted into a fresh directory of
the store (nothing in a hostile tar lands outside it). The build then runs in a worker with an
engine of its own, its messages handed to the response through a queue: `{"stream": …}` lines,
`{"aux": {"ID": …}}`, and on failure `{"errorDetail": …, "error": …}` (the answer is already
200 by then, as dockerd's). A client that goes away cancels the build, as dockerd does: the
running RUN is killed and nothing of the build is left (the steps done stay cached).
"""

from __future__ import annotations

import json
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from berth.api.request import Answer, Request, Stream, json_reply
from berth.api.router import RouteSpec
from berth.errors import BerthError, InvalidArgument, NotFound

_END = b""
_WAIT = 1.0


def _json_arg(request: Request, name: str) -> dict[str, str]:
    text = request.arg(name)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name}: not JSON") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name}: not a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _options(request: Request) -> Any:
    from berth.build.build_args import special_args
    from berth.build.options import Options
    from berth.reference import parse

    if request.arg("remote"):
        raise InvalidArgument("building from a remote context (remote=) is not supported")
    build_args = _json_arg(request, "buildargs")
    epoch, inline_cache = special_args(build_args, {})
    network = request.arg("networkmode") or "default"
    return Options(
        tags=tuple(parse(tag) for tag in request.args("t")),
        build_args=build_args,
        target=request.arg("target") or None,
        no_cache=request.flag("nocache"),
        pull=request.flag("pull"),
        labels=_json_arg(request, "labels"),
        network="default" if network == "bridge" else network,
        epoch=epoch,
        cache_from=tuple(_cache_from(request)),
        inline_cache=inline_cache,
    )


def _cache_from(request: Request) -> list[str]:
    """`cachefrom`: a JSON array of image names (the docker CLI's `--cache-from`)."""
    text = request.arg("cachefrom")
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidArgument("invalid cachefrom: not JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument("invalid cachefrom: not a JSON array of image names")
    return value


def build(request: Request) -> Answer:
    from berth.engine.build import unpack_context

    options = _options(request)
    layout = request.session.layout
    layout.tmp.mkdir(parents=True, exist_ok=True)
    context = Path(tempfile.mkdtemp(prefix="build-context-", dir=layout.tmp))
    try:
        unpack_context(context, request.connection.body_chunks())
        name = request.arg("dockerfile") or "Dockerfile"
        path = context / name.lstrip("/")
        if not path.resolve().is_relative_to(context.resolve()) or not path.is_file():
            raise NotFound(f"Cannot locate specified Dockerfile: {name}")
        dockerfile = path.read_bytes()
    except BaseException:
        shutil.rmtree(context, ignore_errors=True)
        raise
    messages: queue.Queue[bytes] = queue.Queue()
    canceled = threading.Event()
    options = options._replace(canceled=canceled)
    worker = threading.Thread(
        target=_run,
        args=(layout, dockerfile, name, context, options, request.flag("q"), messages),
        name="build",
        daemon=True,
    )
    worker.start()
    return Stream(_relay(messages, canceled))


def _run(
    layout: Any,
    dockerfile: bytes,
    name: str,
    context: Path,
    options: Any,
    quiet: bool,
    messages: queue.Queue[bytes],
) -> None:
    from berth.build.progress import StreamProgress
    from berth.engine import Engine

    progress = StreamProgress(messages.put, quiet=quiet)
    try:
        engine = Engine.open(layout)
        try:
            engine.build.build(dockerfile, name, context, options, progress)
        finally:
            engine.close()
    except BerthError as error:
        progress.failed(0, error.message)
    except Exception as error:  # the top of the worker: said in the stream, never lost
        progress.failed(0, f"internal error: {type(error).__name__}: {error}")
    finally:
        shutil.rmtree(context, ignore_errors=True)
        messages.put(_END)


def _relay(messages: queue.Queue[bytes], canceled: threading.Event) -> Iterator[bytes]:
    """The build's messages as they come; a client that goes away (the stream is closed
    unfinished) cancels the build: its running RUN is killed, nothing of it stays."""
    finished = False
    try:
        while True:
            try:
                message = messages.get(timeout=_WAIT)
            except queue.Empty:
                yield b""  # a chance to notice a client that went away
                continue
            if message == _END:
                finished = True
                return
            yield message
    finally:
        if not finished:
            canceled.set()


def commit(request: Request) -> Answer:
    container = request.arg("container") or ""
    if not container:
        raise InvalidArgument("a container to commit is required (container=)")
    repo, tag = request.arg("repo") or "", request.arg("tag") or ""
    reference = f"{repo}:{tag}" if repo and tag else repo or None
    if tag and not repo:
        raise InvalidArgument("a tag needs a repository (repo=)")
    body = request.json_object(required=False)
    image_id = request.engine.build.commit(
        container,
        reference,
        author=request.arg("author") or "",
        message=request.arg("comment") or "",
        config=body or None,
        changes=[c for c in request.args("changes") if c],
        pause=request.flag("pause", default=True),
    )
    return json_reply({"Id": image_id}, 201)


def prune(request: Request) -> Answer:
    """Of BuildKit's filters only `until` (its keep-duration) is applied: berth's cache has
    no ids, types or labels of records to choose by."""
    forgotten, freed = request.engine.build.prune_cache(request.filters().time("until"))
    return json_reply({"CachesDeleted": forgotten, "SpaceReclaimed": freed})


ROUTES: list[RouteSpec] = [
    ("POST", "/build", build),
    ("POST", "/commit", commit),
    ("POST", "/build/prune", prune),
]
