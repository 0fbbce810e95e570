"""`berth-runtime create [--bundle DIR] [--pid-file F] [--console-socket S] ID`, as runc's.

The container is created and its init waits for `start` (on a FIFO: `Runtime.create` with
`detached`); this command exits, leaving pid 1 to the nearest child subreaper among its
ancestors (conmon, containerd's shim), as runc's does: it is a subreaper itself while it
works, so a pid 1 that fails half-way is its to reap. The container's stdio are this
command's (conmon's pipes), or with --console-socket a pty whose master goes to the socket.

The cgroup is the spec's `linux.cgroupsPath` below each hierarchy's root (cgroupfs; no
systemd), `<BERTH_CGROUP_PARENT or berth>/<id>` without one, with the spec's
`linux.resources` limits; the devices list is enforced by nodev mounts (berth.runtime.mounts).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.errors import AlreadyExists, BerthError, InvalidArgument, SystemFailure
from berth.runtime import cli_state
from berth.runtime.cli import GATE_ENV, GATE_GO, PROG, container_id
from berth.runtime.spawn import Stdio

if TYPE_CHECKING:
    from berth.cgroups import CgroupManager, Resources
    from berth.runtime.cli import Log, Options
    from berth.runtime.runtime import Runtime

# Limits the OCI spec can ask for that berth's cgroups don't set: refused, never ignored.
UNSUPPORTED_RESOURCES = ("blockIO", "hugepageLimits", "rdma", "unified")


def cgroup_place(spec: dict[str, Any], ident: str) -> tuple[str, str]:
    """(parent, name) of the container's cgroup, relative to each hierarchy's root."""
    path = str((spec.get("linux") or {}).get("cgroupsPath") or "")
    if not path:
        return os.environ.get("BERTH_CGROUP_PARENT", "berth"), ident
    if ":" in path:
        raise InvalidArgument(f"cgroupsPath {path!r} is systemd's form: only cgroupfs is supported")
    parent, _, name = path.strip("/").rpartition("/")
    if not parent:
        raise InvalidArgument(f"cgroupsPath {path!r} needs a parent directory")
    return parent, name


def resources(spec: dict[str, Any]) -> Resources:
    """The spec's linux.resources as berth's cgroup limits."""
    from berth.cgroups import Resources

    asked = (spec.get("linux") or {}).get("resources") or {}
    for key in UNSUPPORTED_RESOURCES:
        if asked.get(key):
            raise InvalidArgument(f"linux.resources.{key} is not supported by {PROG}")
    memory = asked.get("memory") or {}
    cpu = asked.get("cpu") or {}
    pids = (asked.get("pids") or {}).get("limit")
    return Resources(
        memory=memory.get("limit"),
        memory_swap=memory.get("swap"),
        memory_reservation=memory.get("reservation"),
        memory_swappiness=memory.get("swappiness"),
        oom_kill_disable=memory.get("disableOOMKiller"),
        cpu_quota=cpu.get("quota"),
        cpu_period=cpu.get("period"),
        cpu_shares=cpu.get("shares"),
        cpuset_cpus=cpu.get("cpus") or None,
        cpuset_mems=cpu.get("mems") or None,
        pids_limit=pids if pids and pids > 0 else None,
    )


def _refuse_unsupported(options: Options, spec: dict[str, Any]) -> None:
    if options.get("preserve-fds", "0") not in ("", "0"):
        raise InvalidArgument("--preserve-fds is not supported")
    if options.get("pidfd-socket"):
        raise InvalidArgument("--pidfd-socket is not supported")
    if options.flag("systemd-cgroup"):
        raise InvalidArgument("--systemd-cgroup is not supported: use the cgroupfs manager")
    if any((spec.get("hooks") or {}).values()):
        raise InvalidArgument(f"OCI hooks are not supported by {PROG}")
    if (spec.get("process") or {}).get("terminal") and not options.get("console-socket"):
        raise InvalidArgument("cannot allocate tty without setting console socket")


def create(options: Options, log: Log) -> int:
    ident = container_id(options, log)
    runtime = cli_state.open_runtime(options, log)
    # What needs no bundle is done while the engine still writes it: the host's cgroup
    # layout (mountinfo, ~20 ms on a host with many mounts), ctypes' import.
    layout = cli_state.saved_layout()
    from berth.sys.process import PR_SET_CHILD_SUBREAPER, prctl

    prctl(PR_SET_CHILD_SUBREAPER, 1)  # a pid 1 that fails half-way is this command's to reap
    _wait_for_the_bundle()
    if (runtime.directory(ident) / "state.json").exists():
        raise AlreadyExists(f"container with id exists: {ident}")
    bundle = Path(os.path.abspath(options.get("bundle", ".")))
    try:
        text = (bundle / "config.json").read_text()
    except FileNotFoundError:
        raise InvalidArgument(f"JSON specification file {bundle}/config.json not found") from None
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise InvalidArgument(f"{bundle}/config.json: {error}") from None
    _refuse_unsupported(options, spec)
    parent, name = cgroup_place(spec, ident)
    root = (spec.get("root") or {}).get("path") or "rootfs"
    record = {
        "ociVersion": spec.get("ociVersion", ""),
        "bundle": str(bundle),
        "rootfs": str(bundle / root),
        "created": cli_state.rfc3339_nano(),
        "annotations": spec.get("annotations") or {},
        "cgroup_parent": parent,
        "cgroup_name": name,
        "cgroup_layout": layout,
    }
    cli_state.write_record(runtime, ident, record, text)
    group: CgroupManager | None = None
    try:
        group = cli_state.cgroup(record)
        group.create(resources(spec))
        pid = _create(options, runtime, ident, bundle, group)
        if options.get("pid-file"):
            cli_state.write_pid_file(options.get("pid-file"), pid)
    except BaseException:
        with contextlib.suppress(BerthError, OSError):
            runtime.delete(ident)  # kills a pid 1 that was made, removes the record
        if group is not None:
            with contextlib.suppress(BerthError, OSError):
                group.destroy()
        raise
    return 0


GATE_SECONDS = 60.0


def _wait_for_the_bundle() -> None:
    """Until the engine that spawned this says the bundle is ready; its end of file without
    that word (it gave up, or died) cancels the create."""
    path = os.environ.pop(GATE_ENV, "")
    if not path:
        return
    import select

    try:
        gate = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise SystemFailure(f"the engine's gate {path}: {error.strerror}") from None
    try:
        if not select.select([gate], [], [], GATE_SECONDS)[0]:
            raise SystemFailure(f"the bundle was not ready within {GATE_SECONDS:.0f} s")
        if os.read(gate, 1) != GATE_GO:
            raise SystemFailure("the engine canceled the start")
    finally:
        os.close(gate)


def _create(
    options: Options, runtime: Runtime, ident: str, bundle: Path, group: CgroupManager
) -> int:
    """Start the init and return pid 1's host pid."""
    socket_path = options.get("console-socket")
    console = cli_state.connect_console(socket_path) if socket_path else None
    try:
        return runtime.create(
            ident,
            bundle,
            Stdio(0, 1, 2),
            cgroup_procs=group.procs_files(),
            console_socket=console,
            detached=True,
        )
    finally:
        if console is not None:
            os.close(console)
