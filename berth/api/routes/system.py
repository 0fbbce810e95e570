"""`/_ping`, `/version`, `/info`, `/system/df`."""

from __future__ import annotations

from berth.api import versions
from berth.api.request import Answer, Reply, Request, json_reply

_PING_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Pragma", "no-cache"),
    ("Builder-Version", "1"),
]


def ping(request: Request) -> Answer:
    """Clients negotiate the version from this answer's `Api-Version` header."""
    return Reply(200, b"" if request.method == "HEAD" else b"OK", _PING_HEADERS)


def version(request: Request) -> Answer:
    from berth.engine.reports import system as report

    return json_reply(
        report.version(versions.text(versions.CURRENT), versions.text(versions.MINIMUM))
    )


def info(request: Request) -> Answer:
    engine = request.engine
    return json_reply(engine.system.info(str(engine.layout.root)))


def disk_usage(request: Request) -> Answer:
    from berth.api.routes.images import versioned_summary

    document = request.engine.system.df()
    for summary in document["Images"]:
        versioned_summary(request, summary)
    if request.version < (1, 42):  # the builder's size, unused since 1.40, was still sent
        document["BuilderSize"] = 0
    return json_reply(document)


ROUTES = [
    ("GET", "/_ping", ping),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/system/df", disk_usage),
]
