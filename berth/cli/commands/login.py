"""`berth login`: check credentials against a registry and store them as `docker login` does.

The check is the registry's own (`GET /v2/` answering its challenge with the credentials), so
a wrong password is reported now rather than at the next pull. Credentials land in Docker's
config.json, shared with the docker CLI.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from berth.cli.context import Context
from berth.cli.parser import new_parser
from berth.cli.usage import UsageError
from berth.errors import InvalidArgument, Unauthorized


def build_parser(prog: str, summary: str) -> argparse.ArgumentParser:
    parser = new_parser(prog, summary)
    parser.add_argument("-u", "--username", help="Username")
    parser.add_argument("-p", "--password", help="Password")
    parser.add_argument(
        "--password-stdin", action="store_true", help="Take the password from stdin"
    )
    parser.add_argument(
        "server", nargs="?", default="", metavar="SERVER", help="Registry (default Docker Hub)"
    )
    parser.set_defaults(prog=prog)
    return parser


def _prompt(username: str | None, password: str | None, current: str | None) -> tuple[str, str]:
    """Ask on the terminal for what the flags did not give, as docker login does."""
    if not sys.stdin.isatty():
        raise InvalidArgument("Cannot perform an interactive login from a non TTY device")
    if not username:
        label = f"Username ({current}): " if current else "Username: "
        username = input(label).strip() or (current or "")
    if not username:
        raise InvalidArgument("Non-null Username Required")
    if password is None:
        password = getpass.getpass("Password: ")
    if not password:
        raise InvalidArgument("Password Required")
    return username, password


def run(args: argparse.Namespace, ctx: Context) -> int:
    from berth.registry import CredentialStore, RegistriesConfig, Registry, normalize_server
    from berth.registry.config import DOCKER_HUB

    if args.password is not None and args.password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive", args.prog)
    host = normalize_server(args.server) if args.server else DOCKER_HUB
    username: str | None = args.username
    password: str | None = args.password
    if password is not None:
        print(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
            file=ctx.stderr,
        )
    if args.password_stdin:
        if not username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")

    store = CredentialStore()
    existing = store.get(host)
    with Registry(RegistriesConfig.load(ctx.layout.root), store) as registry:
        if not username and password is None and existing is not None:
            # Like docker login: with no flags, first try what is already stored, and ask
            # only if the registry refuses it.
            print("Authenticating with existing credentials...", file=ctx.stdout)
            try:
                registry.login(host, existing.username, existing.password)
            except Unauthorized as error:
                if not sys.stdin.isatty():
                    raise
                print(f"Login did not succeed, error: {error}", file=ctx.stderr)
            else:
                print("Login Succeeded", file=ctx.stdout)
                return 0
        if not username or password is None:
            username, password = _prompt(
                username, password, existing.username if existing else None
            )
        if not password:
            raise InvalidArgument("Password Required")
        registry.login(host, username, password)
    store.store(host, username, password)
    print(f"WARNING! Your password will be stored unencrypted in {store.path}.", file=ctx.stderr)
    print("Login Succeeded", file=ctx.stdout)
    return 0
