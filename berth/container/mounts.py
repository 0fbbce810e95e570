"""`-v`, `--mount` and `--tmpfs` as OCI mounts, with Docker's parsing and checks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument

_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def parse_volume(text: str) -> dict[str, Any]:
    """`-v SRC:DST[:ro|rw]` -> a HostConfig.Mounts entry (type bind for paths, else volume)."""
    parts = text.split(":")
    if len(parts) == 1:
        return {"Type": "volume", "Source": "", "Target": parts[0], "ReadOnly": False}
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid volume specification: '{text}'")
    options = parts[2].split(",") if len(parts) == 3 else []
    unknown = [o for o in options if o not in ("ro", "rw", "z", "Z", "nocopy")]
    if unknown:
        raise InvalidArgument(f"invalid mode: {','.join(unknown)}")
    source, target = parts[0], parts[1]
    if not target.startswith("/"):
        raise InvalidArgument(
            f"invalid mount config: the mount destination {target!r} must be an absolute path"
        )
    kind = "bind" if source.startswith("/") or source.startswith(".") else "volume"
    if kind == "volume" and not _VOLUME_NAME.match(source):
        raise InvalidArgument(f"invalid volume name {source!r}")
    mode = parts[2] if len(parts) == 3 else ("z" if kind == "volume" else "")  # as Docker's
    return {
        "Type": kind,
        "Source": source,
        "Target": target,
        "ReadOnly": "ro" in options,
        "Mode": mode,
    }


def parse_mount(text: str) -> dict[str, Any]:
    """`--mount type=bind,source=/a,target=/b,readonly` -> a HostConfig.Mounts entry."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        key, eq, value = item.partition("=")
        fields[key.strip().lower()] = value if eq else "true"
    kind = fields.pop("type", "volume")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid mount type {kind!r}")
    target = fields.pop("target", fields.pop("destination", fields.pop("dst", "")))
    if not target.startswith("/"):
        raise InvalidArgument("invalid mount config: a mount needs an absolute target")
    source = fields.pop("source", fields.pop("src", ""))
    readonly = fields.pop("readonly", fields.pop("ro", "false")) in ("true", "1", "")
    if kind == "bind" and not source:
        raise InvalidArgument(
            'invalid mount config for type "bind": field Source must not be empty'
        )
    entry: dict[str, Any] = {"Type": kind, "Source": source, "Target": target, "ReadOnly": readonly}
    if kind == "tmpfs":
        entry["TmpfsOptions"] = {
            k: v
            for k, v in (
                ("SizeBytes", fields.get("tmpfs-size")),
                ("Mode", fields.get("tmpfs-mode")),
            )
            if v
        }
    return entry


def oci_mounts(host_config: Mapping[str, Any], volumes_root: Path) -> list[dict[str, Any]]:
    """The OCI mounts of -v, --mount and --tmpfs.

    Binds and volumes are nodev (tmpfs always is), part of the device policy: see
    `berth.runtime.mounts.confines_devices`. --privileged lifts it, as in Docker. A `-v`
    bind's missing source directory is made (Docker's -v does so; --mount refuses).
    """
    mounts: list[dict[str, Any]] = []
    nodev = [] if host_config.get("Privileged") else ["nodev"]
    for entry in host_config.get("Mounts") or []:
        target = str(entry["Target"])
        options = (["ro"] if entry.get("ReadOnly") else []) + nodev
        if entry["Type"] == "bind":
            source = Path(str(entry["Source"])).absolute()
            if "Mode" in entry and not os.path.lexists(source):  # -v (and API Binds)
                _make_source(source)
            if not source.exists():
                raise InvalidArgument(
                    f'invalid mount config for type "bind": bind source path does not exist: '
                    f"{source}"
                )
            mounts.append(
                {
                    "destination": target,
                    "type": "bind",
                    "source": str(source),
                    "options": ["rbind", "rprivate", *options],
                }
            )
        elif entry["Type"] == "volume":
            name = str(entry.get("Source") or "")
            if not name:
                raise InvalidArgument(f"the volume mounted at {target} has no name")
            data = volumes_root / name / "_data"
            data.mkdir(parents=True, exist_ok=True)
            mounts.append(
                {
                    "destination": target,
                    "type": "bind",
                    "source": str(data),
                    "options": ["rbind", "rprivate", *options],
                }
            )
        else:
            tmpfs = ["nosuid", "nodev", "noexec", *[o for o in options if o != "nodev"]]
            extra = entry.get("TmpfsOptions") or {}
            if extra.get("SizeBytes"):
                tmpfs.append(f"size={extra['SizeBytes']}")
            if extra.get("Mode"):
                tmpfs.append(f"mode={extra['Mode']}")
            mounts.append(
                {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": tmpfs}
            )
    for target, option_text in (host_config.get("Tmpfs") or {}).items():
        options = ["nosuid", "nodev", "noexec", *([o for o in option_text.split(",") if o])]
        mounts.append(
            {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options}
        )
    return mounts


def _make_source(source: Path) -> None:
    """A missing `-v` source: a directory (and its parents), as dockerd makes it."""
    try:
        source.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidArgument(
            f"error while creating mount source path '{source}': {error.strerror}"
        ) from None
