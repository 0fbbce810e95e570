"""More `run`/`create` flags: DNS, a static address, legacy links, the log driver, the
streams a foreground run attaches, volumes inherited from other containers, and the files
Docker's CLI reads or writes for a run (--label-file, --cidfile). Parsed into the Config,
HostConfig and endpoint keys Docker's CLI sends, so the engine checks them as it checks an
API client's (berth.container.creating); kept apart from `run_options` so each module
stays one screen of flags."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument

STREAMS = ("stdin", "stdout", "stderr")


def add_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--dns", action="append", default=[], help="Set custom DNS servers")
    add("--dns-search", action="append", default=[], help="Set custom DNS search domains")
    add("--dns-option", "--dns-opt", action="append", default=[], help="Set DNS options")
    add("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    add("--link", action="append", default=[], help="Add link to another container")
    add("--log-driver", help="Logging driver for the container")
    add("--log-opt", action="append", default=[], help="Log driver options")
    add("--cidfile", help="Write the container ID to the file")
    add("--label-file", action="append", default=[], help="Read in a line delimited file of labels")
    add("-a", "--attach", action="append", default=[], help="Attach to STDIN, STDOUT or STDERR")
    add(
        "--volumes-from",
        action="append",
        default=[],
        help="Mount volumes from the specified container(s)",
    )


def apply(args: argparse.Namespace, config: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Put what these flags say into the documents `run_options.build_documents` made."""
    host_config["Dns"] = list(args.dns)
    host_config["DnsSearch"] = list(args.dns_search)
    host_config["DnsOptions"] = list(args.dns_option)
    for link in args.link:  # Docker's CLI: NAME[:ALIAS], each part a name
        name, _, alias = link.partition(":")
        if not name or ":" in alias:
            raise InvalidArgument(f'invalid argument "{link}" for "--link" flag: bad format')
    host_config["Links"] = list(args.link) or None
    host_config["VolumesFrom"] = list(args.volumes_from) or None
    host_config["LogConfig"] = _log_config(args.log_driver or "", args.log_opt)
    host_config["ContainerIDFile"] = args.cidfile or ""
    config["Labels"] = {**_label_files(args.label_file), **(config.get("Labels") or {})}
    _attach(args, config)
    for mount in host_config.get("Mounts") or []:
        source = str(mount.get("Source") or "")
        if mount.get("Type") == "bind" and source.startswith("."):  # Docker's CLI (23+)
            mount["Source"] = os.path.abspath(source)


def _log_config(driver: str, options: list[str]) -> dict[str, Any]:
    """LogConfig as Docker's CLI sends it; `none` takes no options (the CLI's own check)."""
    if driver == "none" and options:
        raise InvalidArgument("invalid logging opts for driver none")
    pairs = dict(option.partition("=")[::2] for option in options)
    return {"Type": driver, "Config": pairs}


def _label_files(paths: list[str]) -> dict[str, str]:
    """Labels from files, a `KEY=VALUE` a line (blank lines and `#` comments skipped): the
    flags' own --label entries win, as the docker CLI merges them."""
    labels: dict[str, str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidArgument(f"open {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise InvalidArgument(f"{path}: a label file is UTF-8 text") from None
        for raw in text.splitlines():
            line = raw.lstrip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            if not key:
                raise InvalidArgument(f"invalid label: {line}")
            labels[key] = value
    return labels


def _attach(args: argparse.Namespace, config: dict[str, Any]) -> None:
    """Docker's CLI: `-a` picks the streams (stdout and stderr when none is named, stdin
    with -i too); a detached run attaches none, and can't name any."""
    chosen = set()
    for word in args.attach:
        if word.lower() not in STREAMS:
            raise InvalidArgument(
                f'invalid argument "{word}" for "-a, --attach" flag: valid streams are STDIN, '
                "STDOUT and STDERR"
            )
        chosen.add(word.lower())
    detached = bool(getattr(args, "detach", False))
    if detached and chosen:
        raise InvalidArgument("conflicting options: cannot specify both --attach and --detach")
    config["AttachStdin"] = not detached and (args.interactive or "stdin" in chosen)
    config["AttachStdout"] = not detached and (not chosen or "stdout" in chosen)
    config["AttachStderr"] = not detached and (not chosen or "stderr" in chosen)
    config["StdinOnce"] = bool(config.get("OpenStdin")) and config["AttachStdin"]


class ContainerIdFile:
    """`--cidfile`: made before the container (refused if it exists, as Docker's CLI), the
    id written into it once created, and removed again if the create fails."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            raise InvalidArgument(
                f"container ID file found, make sure the other container isn't running or "
                f"delete {path}"
            ) from None
        except OSError as error:
            raise InvalidArgument(f"failed to create the container ID file: {error}") from None
        os.close(fd)

    def write(self, container_id: str) -> None:
        if self.path is not None:
            self.path.write_text(container_id)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
