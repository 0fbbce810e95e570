"""`GET /images/{name}/get`, `GET /images/get?names=` and `POST /images/load`: what
`docker save`/`docker load` and docker-py's `image.save()`/`images.load()` use.

A save answers the tar as it is written (each layer measured first: a response is a
stream); a name that matches nothing is a 404 before any byte of it. A load reads the whole
body (spooled under the store, see berth.image.archive_read) and loads it before answering,
so a bad archive is a 4xx JSON error, as for any bad input; then Docker's JSON lines
(`{"stream": "Loaded image: busybox:latest\\n"}`), chunked, as docker-py reads them. berth
reports no per-layer progress, so `quiet` changes nothing.
"""

from __future__ import annotations

from berth.api.request import Answer, Request, Stream
from berth.api.streams import json_lines

TAR = "application/x-tar"


def get_one(request: Request) -> Answer:
    saver = request.engine.image_archives.saver([request.params["name"]])
    return Stream(saver.chunks(), TAR)


def get_many(request: Request) -> Answer:
    saver = request.engine.image_archives.saver(request.args("names"))
    return Stream(saver.chunks(), TAR)


def load(request: Request) -> Answer:
    loaded = request.engine.image_archives.load_chunks(request.connection.body_chunks())
    return Stream(json_lines({"stream": f"{line}\n"} for line in loaded.lines))


ROUTES = [
    ("GET", "/images/get", get_many),
    ("POST", "/images/load", load),
    ("GET", "/images/{name:path}/get", get_one),
]
