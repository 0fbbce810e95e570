"""`HEAD|GET|PUT /containers/{id}/archive?path=`: a path's stat, a tar of it, or a tar
unpacked into a directory — what `docker cp` and docker-py's get_archive/put_archive use.

The copy helper does the work inside the container's root (a fresh process chrooted there:
`berth.container.copier`), so no client path, `..` or symlink reaches the host. Tars are
streamed both ways, never held whole. The stat travels base64-encoded JSON in
`X-Docker-Container-Path-Stat`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from berth.api.request import Answer, Reply, Request, Stream
from berth.errors import BerthError, InvalidArgument, NotFound, http_status

PATH_MAX = 4096  # the kernel's, in bytes
STAT_HEADER = "X-Docker-Container-Path-Stat"
TAR = "application/x-tar"


def _path(request: Request) -> str:
    path = request.arg("path") or ""
    if not path:
        raise InvalidArgument("bad parameter: path cannot be empty")
    if len(path.encode(errors="surrogateescape")) > PATH_MAX:
        raise InvalidArgument(f"path too long: over {PATH_MAX} bytes")
    if "\0" in path:
        raise InvalidArgument("invalid path: it holds a NUL byte")
    return path


def _stat_header(document: dict[str, Any]) -> tuple[str, str]:
    return STAT_HEADER, base64.b64encode(json.dumps(document).encode()).decode()


def _not_found(error: NotFound, path: str, name: str) -> NotFound:
    """dockerd's words for a path that is not there; a missing container stays as it is."""
    if error.message.startswith("Could not find the file"):
        return NotFound(f"Could not find the file {path} in container {name}")
    return error


def get_archive(request: Request) -> Answer:
    """GET (the tar and the stat) and HEAD (the stat only)."""
    name, path = request.params["id"], _path(request)
    tools = request.engine.container_tools
    if request.method == "HEAD":
        try:
            document = tools.stat_path(tools.lookup(name), path)
        except BerthError as error:  # a HEAD answer has a status and no body
            if isinstance(error, NotFound):
                error = _not_found(error, path, name)
            return Reply(http_status(error), b"", [("Content-Type", "application/json")])
        return Reply(200, b"", [_stat_header(document)])
    try:
        document, chunks = tools.archive_path(tools.lookup(name), path)
    except NotFound as error:
        raise _not_found(error, path, name) from None
    return Stream(chunks, TAR, 200, [_stat_header(document)])


def export(request: Request) -> Answer:
    """`GET /containers/{id}/export`: the container's filesystem as a tar (`docker export`)."""
    tools = request.engine.container_tools
    return Stream(tools.export(tools.lookup(request.params["id"])), TAR)


def put_archive(request: Request) -> Answer:
    name, path = request.params["id"], _path(request)
    # dockerd's default lets a file replace a directory; noOverwriteDirNonDir forbids it.
    allow = not request.has("noOverwriteDirNonDir") or not request.flag("noOverwriteDirNonDir")
    tools = request.engine.container_tools
    record = tools.lookup(name)
    try:
        tools.extract_archive(
            record,
            path,
            request.connection.body_chunks(),
            allow_overwrite_dir_with_file=allow,
            copy_uid_gid=request.flag("copyUIDGID"),
        )
    except NotFound as error:
        raise _not_found(error, path, name) from None
    return Reply(200)
