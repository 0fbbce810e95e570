"""`update`: new limits for a container's live cgroup, stored in its HostConfig so the
next start keeps them (Docker's names: Memory, MemorySwap, MemoryReservation, NanoCpus,
CpuShares, CpuQuota, CpuPeriod, CpusetCpus, PidsLimit, RestartPolicy)."""

from __future__ import annotations

from typing import Any

from berth.container import recovery
from berth.container.creating import MIN_MEMORY
from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord, ContainerStore
from berth.container.starting import CPU_PERIOD, NANO
from berth.container.state import ACTIVE
from berth.errors import InvalidArgument


def update(
    paths: ContainerPaths, records: ContainerStore, record: ContainerRecord, changes: dict[str, Any]
) -> None:
    """Apply `changes` to the (refreshed) container's cgroup if it runs, then store them."""
    from berth.cgroups import Resources, open_cgroup

    host_config = {**record.host_config, **changes}
    policy = (changes.get("RestartPolicy") or {}).get("Name")
    if host_config.get("AutoRemove") and policy not in (None, "", "no"):
        raise InvalidArgument(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        )
    memory = int(host_config.get("Memory") or 0)
    if "Memory" in changes and 0 < memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if record.status in ACTIVE:
        quota = None
        period = None
        if "NanoCpus" in changes:
            nano = int(changes["NanoCpus"] or 0)
            quota = nano * CPU_PERIOD // NANO if nano else -1
            period = CPU_PERIOD
        if "CpuQuota" in changes:
            quota = int(changes["CpuQuota"]) or -1
        if "CpuPeriod" in changes:
            period = int(changes["CpuPeriod"]) or None
        resources = Resources(
            memory=changes.get("Memory"),
            memory_swap=changes.get("MemorySwap"),
            memory_reservation=changes.get("MemoryReservation"),
            cpu_quota=quota,
            cpu_period=period,
            cpu_shares=changes.get("CpuShares"),
            cpuset_cpus=changes.get("CpusetCpus"),
            pids_limit=changes.get("PidsLimit"),
        )
        open_cgroup(record.id, parent=paths.cgroup_parent).update(resources)
    records.save_host_config(record.id, host_config)
    recovery.save(paths.directory(record.id), record._replace(host_config=host_config))
