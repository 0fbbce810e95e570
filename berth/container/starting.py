"""What a start writes before the monitor takes over: the OCI spec (with the /etc files,
the seccomp profile, the binds and volumes), the cgroup with its limits, and the monitor's
configuration. Pure assembly from the container's row; the lifecycle runs it in order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord
from berth.monitor.config import MonitorConfig

if TYPE_CHECKING:
    from berth.cgroups import CgroupManager
    from berth.container.services import Snapshots
    from berth.network.setup import NetworkSetup

INIT_BINARY = Path("/usr/bin/tini-static")  # Debian's tini: what `--init` runs as pid 1
NANO = 1_000_000_000
CPU_PERIOD = 100_000


def spec(
    record: ContainerRecord,
    paths: ContainerPaths,
    volumes_root: Path,
    network: NetworkSetup,
    lookup: Callable[[str], ContainerRecord],
) -> dict[str, Any]:
    """The container's OCI runtime spec, its /etc files written beside it; `lookup` finds
    the containers whose IPC or PID namespace it joins (a shareable /dev/shm is mounted)."""
    from berth.container import devices, namespaces, user
    from berth.container import spec as oci_spec
    from berth.container.etc_files import link_mtab, write_etc_files
    from berth.container.mounts import oci_mounts

    rootfs = paths.rootfs(record.id)
    group_add = [str(g) for g in record.host_config.get("GroupAdd") or []]
    resolved = user.resolve(rootfs, str(record.config.get("User") or ""), group_add)
    gathered = devices.for_container(record.host_config)
    etc = write_etc_files(paths.directory(record.id), record, network)
    link_mtab(rootfs)
    binds = oci_mounts(record.host_config, volumes_root)
    shared = namespaces.prepare(record, paths, lookup)  # last: it may mount on the host
    config = record.config
    if network.links.env:  # a link's variables come before the container's own (Docker's)
        config = {**config, "Env": [*network.links.env, *(config.get("Env") or [])]}
    return oci_spec.build(
        config,
        record.host_config,
        oci_spec.SpecInputs(
            rootfs=rootfs,
            user=resolved,
            etc_files=etc,
            netns=network.netns,
            seccomp=seccomp(record.host_config),
            init_binary=INIT_BINARY if INIT_BINARY.exists() else None,
            binds=binds,
            joined=shared.paths,
            shm=shared.shm,
            devices=gathered,
        ),
    )


def seccomp(host_config: dict[str, Any]) -> dict[str, Any] | None:
    """Docker's default filter, a profile file, or none (privileged or unconfined)."""
    from berth.container.spec import capabilities
    from berth.runtime import seccomp_default

    if host_config.get("Privileged"):
        return None
    chosen = None
    for option in host_config.get("SecurityOpt") or []:
        text = str(option)
        if text.startswith(("seccomp=", "seccomp:")):
            chosen = text[len("seccomp=") :]
    caps = capabilities(host_config.get("CapAdd") or [], host_config.get("CapDrop") or [], False)
    if chosen == "unconfined":
        return None
    if chosen:  # the profile's JSON, read from its file when the container was created
        return dict(seccomp_default.parse_profile(chosen, caps, source="SecurityOpt"))
    return dict(seccomp_default.default_profile(caps))


def cgroup(record: ContainerRecord, parent: str) -> CgroupManager:
    """The container's cgroup, created with its HostConfig's limits."""
    from berth.cgroups import Resources, open_cgroup

    hc = record.host_config
    quota = None
    if hc.get("NanoCpus"):
        quota = int(hc["NanoCpus"]) * CPU_PERIOD // NANO
    resources = Resources(
        memory=hc.get("Memory") or None,
        memory_swap=hc.get("MemorySwap") or None,
        memory_reservation=hc.get("MemoryReservation") or None,
        cpu_quota=quota or hc.get("CpuQuota") or None,
        cpu_period=CPU_PERIOD if quota else (hc.get("CpuPeriod") or None),
        cpu_shares=hc.get("CpuShares") or None,
        cpuset_cpus=hc.get("CpusetCpus") or None,
        pids_limit=hc.get("PidsLimit") if (hc.get("PidsLimit") or 0) > 0 else None,
        memory_swappiness=hc.get("MemorySwappiness"),
        oom_kill_disable=bool(hc.get("OomKillDisable")) or None,
    )
    group = open_cgroup(record.id, parent=parent)
    group.create(resources)
    return group


def mount_rootfs(paths: ContainerPaths, snapshots: Snapshots, record: ContainerRecord) -> None:
    """The container's snapshot on its rootfs, unless it is there already."""
    rootfs = paths.rootfs(record.id)
    if os.path.ismount(rootfs):
        return
    privileged = bool(record.host_config.get("Privileged"))
    # nodev: the device policy (berth.container.mounts.oci_mounts)
    snapshots.mounts(record.id).attach(rootfs, nodev=not privileged)


def admin_argv(paths: ContainerPaths, *words: str) -> list[str]:
    """A berth command on this store, for the monitor to run once its container is done."""
    layout = paths.layout
    return [
        sys.executable,
        "-I",
        "-m",
        "berth",
        "--root",
        str(layout.root),
        "--runroot",
        str(layout.runroot),
        *words,
    ]


def monitor_basics(
    record: ContainerRecord, paths: ContainerPaths, *, wait_for_attach: bool
) -> MonitorConfig:
    """What the monitor is told before the network and the cgroup are set up: enough to
    choose the monitor and spawn conmon ahead (`berth.container.monitors.ahead`)."""
    from berth.container.log_config import settings

    policy = record.host_config.get("RestartPolicy") or {}
    log = settings(record.host_config)
    return MonitorConfig(
        id=record.id,
        bundle=str(paths.directory(record.id)),
        run_dir=str(paths.run_dir(record.id)),
        runtime_root=str(paths.runtime_root),
        log_path=str(paths.log(record.id)) if log.readable else "",
        log_max_size=log.max_size,
        log_max_files=log.max_files,
        rootfs=str(paths.rootfs(record.id)),
        shm=str(paths.shm(record.id)) if record.host_config.get("IpcMode") == "shareable" else "",
        tty=bool(record.config.get("Tty")),
        open_stdin=bool(record.config.get("OpenStdin")),
        stdin_once=bool(record.config.get("StdinOnce")),
        wait_for_attach=wait_for_attach,
        cgroup_name=record.id,
        cgroup_parent=paths.cgroup_parent,
        restart_policy=str(policy.get("Name") or "no"),
        restart_max=int(policy.get("MaximumRetryCount") or 0),
        auto_remove_argv=admin_argv(paths, "rm", "-f", record.id)
        if record.host_config.get("AutoRemove")
        else [],
        healthcheck=record.config.get("Healthcheck"),
        shell=list(record.config.get("Shell") or []),
        dns_servers=[str(s) for s in record.host_config.get("Dns") or []],
        reserve=str(paths.layout.reserve),
        events=str(paths.layout.events),
        event_attributes=record.event_attributes(),
        runroot=str(paths.layout.runroot),
    )


def monitor_config(
    basics: MonitorConfig,
    paths: ContainerPaths,
    group: CgroupManager,
    network: NetworkSetup,
    *,
    owns_netns: bool,
) -> MonitorConfig:
    """What the monitor is told: `basics`, with its cgroup, what to run when the container
    is done, and which of its fds are the network's."""
    dns_fds = network.dns_fds or ()
    cleanup = admin_argv(paths, "container", "cleanup", basics.id) if owns_netns else []
    return basics._replace(
        cgroup_procs=[str(p) for p in group.procs_files()],
        cleanup_argv=cleanup,
        dns_fds=list(dns_fds),
        dns_names=network.names_files,
        dns_aliases=dict(network.links.aliases or {}),
        held_fds=[s.fileno() for s in network.held if s.fileno() not in dns_fds],
    )
