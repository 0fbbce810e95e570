"""What `berth-runtime` keeps about a container beside the runtime's own state, and the
container's OCI state document (`state`'s output, runtime-spec runtime.md).

In the runtime's directory of the container (`Runtime.directory`, removed by `delete`):
`oci.json` (the spec's ociVersion, the bundle and rootfs, created, annotations, the cgroup)
and `config.json`, the spec as `create` read it: `exec` takes the container's process
defaults and seccomp profile from it, since the bundle's may change after create.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import NotFound
from berth.runtime.cli import DEFAULT_ROOT, Log, Options
from berth.runtime.runtime import Runtime, RuntimeState

if TYPE_CHECKING:
    from berth.cgroups import CgroupManager

RECORD = "oci.json"
SPEC = "config.json"
GONE = "container does not exist"  # runc's words, which podman looks for


def open_runtime(options: Options, log: Log) -> Runtime:
    """The runtime on --root; its warnings go to the command's log (never through logging,
    whose last-resort handler would print them on a container's stderr, and whose import
    costs `create` ~5 ms)."""

    def warn(message: str, *args: object) -> None:
        log.write("warning", message % args)

    return Runtime(Path(os.path.abspath(options.get("root", DEFAULT_ROOT))), warn)


def rfc3339_nano() -> str:
    whole, fraction = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction:09d}Z"


def write_record(runtime: Runtime, container_id: str, record: dict[str, Any], spec: str) -> None:
    """The record and the spec's copy, before the container exists: a create that fails
    half-way leaves them where `delete` finds them."""
    directory = runtime.directory(container_id)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SPEC).write_text(spec)
    (directory / RECORD).write_text(json.dumps(record))


def read_record(runtime: Runtime, container_id: str) -> dict[str, Any]:
    """The record of a container `create` finished (a state.json is there too)."""
    directory = runtime.directory(container_id)
    try:
        if not (directory / "state.json").exists():
            raise FileNotFoundError
        record: dict[str, Any] = json.loads((directory / RECORD).read_text())
    except FileNotFoundError:
        raise NotFound(GONE) from None
    return record


def read_spec(runtime: Runtime, container_id: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((runtime.directory(container_id) / SPEC).read_text())
    return spec


def status(runtime: Runtime, container_id: str) -> RuntimeState:
    try:
        return runtime.state(container_id)
    except NotFound:
        raise NotFound(GONE) from None


def cgroup(record: dict[str, Any]) -> CgroupManager:
    """The container's cgroup, on the layout `create` found (`saved_layout`)."""
    from berth.cgroups import Hierarchy, Layout, open_cgroup

    def hierarchy(saved: dict[str, Any]) -> Hierarchy:
        return Hierarchy(
            Path(saved["mount_point"]), frozenset(saved["controllers"]), saved["root"], ""
        )

    saved = record["cgroup_layout"]
    layout = Layout(
        saved["version"],
        saved["mode"],
        tuple(hierarchy(h) for h in saved["v1"]),
        hierarchy(saved["unified"]) if saved["unified"] else None,
        frozenset(saved["controllers"]),
    )
    return open_cgroup(record["cgroup_name"], parent=record["cgroup_parent"], layout=layout)


def saved_layout() -> dict[str, Any]:
    """The host's cgroup layout as JSON, kept in the record: reading /proc/self/mountinfo
    costs ~20 ms on a host with many mounts (2,400 lines here), which `delete`, `kill --all`
    and `exec` would pay again for mounts that don't change under a container."""
    from berth.cgroups import Hierarchy, detect

    def hierarchy(found: Hierarchy) -> dict[str, Any]:
        return {
            "mount_point": str(found.mount_point),
            "controllers": sorted(found.controllers),
            "root": found.root,
        }

    layout = detect()
    return {
        "version": layout.version,
        "mode": layout.mode,
        "v1": [hierarchy(h) for h in layout.v1],
        "unified": hierarchy(layout.unified) if layout.unified else None,
        "controllers": sorted(layout.controllers),
    }


def document(runtime: Runtime, container_id: str) -> dict[str, Any]:
    """The OCI state of the container, with runc's extra fields (rootfs, created, owner)."""
    record = read_record(runtime, container_id)
    current = status(runtime, container_id)
    state = {
        "ociVersion": record["ociVersion"],
        "id": container_id,
        "pid": current.pid or 0,
        "status": current.status,
        "bundle": record["bundle"],
        "rootfs": record["rootfs"],
        "created": record["created"],
        "owner": "",
    }
    if record.get("annotations"):
        state["annotations"] = record["annotations"]
    return state


def write_pid_file(path: str, pid: int) -> None:
    """As runc: a temporary file renamed into place, so a reader never sees half a pid."""
    target = os.path.abspath(path)
    temporary = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}")
    with open(temporary, "w") as stream:
        stream.write(str(pid))
    os.rename(temporary, target)


def connect_console(path: str) -> int:
    """A connection to the caller's console socket, where the pty's master is sent; _socket,
    not socket: the module's enums cost ~2.5 ms of start-up."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return int(sock.detach())
