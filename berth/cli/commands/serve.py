"""`berth serve` (`berth system service`): the Docker Engine API, until SIGTERM or Ctrl-C.

`DOCKER_HOST=unix:///run/berth/berth.sock docker ps` then lists berth's containers.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.errors import InvalidArgument


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument(
        "-H",
        "--host",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="Listen on unix://PATH or tcp://HOST:PORT (default unix://RUNROOT/berth.sock)",
    )
    parser.add_argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify")
    parser.add_argument(
        "--tlsverify", action="store_true", help="Use TLS and require client certificates"
    )
    parser.add_argument("--tlscacert", metavar="FILE", help="Trust certificates signed by this CA")
    parser.add_argument("--tlscert", metavar="FILE", help="Path to the TLS certificate file")
    parser.add_argument("--tlskey", metavar="FILE", help="Path to the TLS key file")
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="How long requests in flight may finish after SIGTERM (default 15)",
    )
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth import jsonio
    from berth.api import listeners
    from berth.api.server import Server

    jsonio.prefer_fast()  # a long-lived process: worth orjson's import

    tls = None
    if args.tls or args.tlsverify:
        if not args.tlscert or not args.tlskey:
            raise InvalidArgument("TLS needs --tlscert and --tlskey")
        if args.tlsverify and not args.tlscacert:
            raise InvalidArgument("--tlsverify needs --tlscacert")
        tls = listeners.TlsFiles(args.tlscert, args.tlskey, args.tlscacert, args.tlsverify)
    addresses = [listeners.parse(text) for text in args.host] or [
        listeners.Address("unix", path=str(ctx.layout.runroot / "berth.sock"))
    ]
    for address in addresses:
        listeners.check_exposure(address, tls)
    context = listeners.tls_context(tls) if tls else None
    ctx.engine  # noqa: B018 -- a damaged or unreachable store is said now, not per request
    sockets = []
    try:
        for address in addresses:
            sockets.append(listeners.open_listener(address))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    server = Server(ctx.layout, sockets, context, grace=args.shutdown_timeout)
    terminated = threading.Event()

    def on_sigterm(_number: int, _frame: FrameType | None) -> None:
        terminated.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    server.start()
    for address in addresses:
        print(f"API listen on {address}", file=sys.stderr, flush=True)
    try:
        while not terminated.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("stopping: finishing the requests in flight", file=sys.stderr, flush=True)
    server.stop()
    for address in addresses:
        if address.scheme == "unix":
            Path(address.path).unlink(missing_ok=True)
    return 0
