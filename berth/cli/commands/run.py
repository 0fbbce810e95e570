"""`berth run`: create and start a container, attached to the terminal unless -d.

Exit codes as Docker's: the container's own; 125 when berth fails; 126 when the command
can't be invoked; 127 when it can't be found.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from berth.cli.attach import DEFAULT_DETACH_KEYS, Session
from berth.cli.context import Context
from berth.cli.images_needed import ensure_image
from berth.cli.parser import add_bool_flag, new_parser
from berth.cli.run_extra_options import ContainerIdFile
from berth.cli.run_options import add_run_flags, build_documents
from berth.monitor.config import ATTACH_SOCKET

if TYPE_CHECKING:
    from typing import Any


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary, short_help=False)
    parser.add_argument(
        "-d",
        "--detach",
        action="store_true",
        help="Run container in background and print container ID",
    )
    parser.add_argument(
        "--detach-keys",
        default=DEFAULT_DETACH_KEYS,
        help="Override the key sequence for detaching a container",
    )
    add_bool_flag(
        parser, "--sig-proxy", help="Proxy received signals to the process (default true)"
    )
    add_run_flags(parser)
    return parser


def run(args: argparse.Namespace, ctx: Context) -> int:
    config, host_config = build_documents(args)
    chosen = _spawn_ahead(ctx, config, host_config, args.name) if args.detach else None
    containers = ctx.engine.containers
    cidfile = ContainerIdFile(args.cidfile)
    try:
        if ensure_image(ctx, args) and chosen is not None:
            from berth.container.monitors import cancel_ahead

            cancel_ahead(chosen)  # a pull may outlast its wait for the bundle: the start
        record = containers.create(  # spawns another
            config,
            host_config,
            args.name,
            args.network_alias,
            address=args.ip,
            container_id=chosen,
        )
    except BaseException:
        cidfile.discard()
        if chosen is not None:  # not created: nothing of it stays (the create's own error
            from berth.container.monitors import cancel_ahead  # path canceled it already)

            cancel_ahead(chosen)
        raise
    cidfile.write(record.id)
    if args.detach:
        containers.start(record)
        ctx.stdout.write(record.id + "\n")
        return 0
    record = containers.start(
        record, wait_for_attach=True, meanwhile=containers.prepare_removal if args.rm else None
    )
    from berth.monitor.conmon import is_conmon  # loaded by the start already

    run_dir = containers.run_dir(record.id)
    # conmon's exit command removes an --rm container; berth's monitor leaves that to the
    # client that heard the exit (no second berth command on the way)
    removed_by_monitor = is_conmon(run_dir)
    session = Session(
        run_dir / ATTACH_SOCKET,
        stdin=args.interactive,
        stdout=bool(config["AttachStdout"]),
        stderr=bool(config["AttachStderr"]),
        tty=args.tty,
        detach_keys=args.detach_keys,
        sig_proxy=args.sig_proxy,
    )
    code = session.run()
    if code is None:
        return 0  # detached: the container runs on
    if session.error:
        ctx.stderr.write(f"Error: {session.error}\n")
    if code < 0:  # the monitor went away without an exit: read what was recorded
        code = int(containers.get(record.id).state.get("ExitCode", 125))
    if args.rm:
        if session.heard_exit and not removed_by_monitor:
            containers.remove(containers.get(record.id), force=True)
        else:
            containers.wait_removed(record)
    return code


def _spawn_ahead(
    ctx: Context, config: dict[str, Any], host_config: dict[str, Any], name: str | None
) -> str | None:
    """When conmon holds containers (`berth.monitor.choice`), `run -d` chooses the
    container's id now and spawns the conmon that will hold it before the engine is loaded
    (`monitors.spawn_ahead`): the runtime's start (an interpreter and its imports) then
    overlaps all of the engine's work, the create's included. The id for the create, or
    None."""
    import os

    from berth.monitor.choice import conmon_wanted

    if not conmon_wanted():
        return None
    if not os.path.exists(ctx.layout.database):
        return None  # a store the engine has yet to make: nothing of a container before it
    from berth.container.monitors import spawn_ahead
    from berth.container.paths import ContainerPaths
    from berth.container.records import ContainerRecord

    chosen = os.urandom(32).hex()
    image = str(config.get("Image") or "")
    record = ContainerRecord(chosen, name or "", "", image, "", config, host_config, {})
    spawn_ahead(record, ContainerPaths(ctx.layout))
    return chosen


def needs_own_monitor(args: argparse.Namespace) -> bool:
    """Whether berth's monitor holds the container even where conmon holds containers
    (`berth.monitor.conmon.eligible`: attached from the start, with no terminal), so that
    `berth.cli.main` starts one ahead."""
    return not (args.detach or (args.interactive and args.tty))
