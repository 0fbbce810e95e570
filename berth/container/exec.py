"""`exec`: one more process in a running container, as `docker exec` runs it: the
container's environment, user, capabilities and seccomp filter unless overridden (`-u`
resolved with the container's --group-add; `--privileged` grants every capability, the
seccomp filter and device policy staying the container's, as dockerd's). The runtime's
exec helper (a fresh process) joins the container's namespaces and cgroup."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from berth.container import state
from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord
from berth.errors import InvalidArgument

if TYPE_CHECKING:
    import subprocess

    from berth.runtime import Runtime, Stdio


def run(
    paths: ContainerPaths,
    runtime: Runtime,
    record: ContainerRecord,
    args: list[str],
    *,
    env: list[str],
    user: str | None,
    workdir: str | None,
    tty: bool,
    stdio: Stdio,
    console_socket: int | None = None,
    console_size: tuple[int, int] | None = None,  # (rows, columns) of the caller's
    privileged: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `args` in the (refreshed) `record`'s container; returns the helper that parents
    the process (its exit status is the process's)."""
    from berth.cgroups import open_cgroup
    from berth.container import user as users
    from berth.container.spec import merge_env
    from berth.runtime.capabilities import ALL_CAPABILITIES

    state.check_exec(record.id, record.status)
    if not args:
        raise InvalidArgument("exec needs a command to run")
    directory = paths.directory(record.id)
    spec = json.loads((directory / "config.json").read_text())
    process = dict(spec["process"])
    process["args"] = args
    process["env"] = merge_env(process.get("env") or [], ["TERM=xterm"] if tty else [], env)
    process["terminal"] = tty
    if tty and console_size:
        process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    if workdir:
        process["cwd"] = workdir
    if user is not None:
        group_add = [str(g) for g in record.host_config.get("GroupAdd") or []]
        resolved = users.resolve(paths.rootfs(record.id), user, group_add)
        process["user"] = {
            "uid": resolved.uid,
            "gid": resolved.gid,
            "additionalGids": list(resolved.additional_gids),
        }
    if privileged:
        every = list(ALL_CAPABILITIES)
        process["capabilities"] = {
            **(process.get("capabilities") or {}),
            **{key: every for key in ("bounding", "effective", "permitted", "inheritable")},
        }
    cgroup = open_cgroup(record.id, parent=paths.cgroup_parent)
    return runtime.exec(
        record.id,
        process,
        stdio,
        cgroup_procs=cgroup.procs_files(),
        seccomp_profile=(spec.get("linux") or {}).get("seccomp"),
        console_socket=console_socket,
    )
