"""`stats`: a running container's CPU, memory, pids and network use, read from its cgroup
(twice, for a CPU percentage) and from its network namespace's counters."""

import time
from typing import Any, NamedTuple

from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord
from berth.container.state import Status
from berth.errors import BerthError

STATS_INTERVAL = 0.5
NANO = 1_000_000_000


class Usage(NamedTuple):
    cpu_percent: float
    memory: int
    memory_limit: int
    pids: int
    net_rx: int
    net_tx: int


def _host_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _network(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces other than lo."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev", encoding="ascii") as dev:
            for line in list(dev)[2:]:
                name, _, counters = line.partition(":")
                if name.strip() == "lo":
                    continue
                values = counters.split()
                rx += int(values[0])
                tx += int(values[8])
    except (OSError, IndexError, ValueError):
        pass
    return rx, tx


def stats(paths: ContainerPaths, records: list[ContainerRecord]) -> dict[str, Usage]:
    """One reading per running container (two samples apart, for the CPU percentage);
    containers not running read as zeros."""
    from berth.cgroups import open_cgroup

    host_memory = _host_memory()
    first: dict[str, tuple[int, float]] = {}
    groups: dict[str, Any] = {}
    for record in records:
        if record.status in (Status.RUNNING, Status.PAUSED):
            opened = open_cgroup(record.id, parent=paths.cgroup_parent)
            try:
                first[record.id] = (opened.stats().cpu_usage_ns, time.monotonic())
            except BerthError:
                continue
            groups[record.id] = opened
    if first:
        time.sleep(STATS_INTERVAL)
    usages: dict[str, Usage] = {}
    for record in records:
        group = groups.get(record.id)
        if group is None:
            usages[record.id] = Usage(0.0, 0, 0, 0, 0, 0)
            continue
        try:
            reading = group.stats()
        except BerthError:
            usages[record.id] = Usage(0.0, 0, 0, 0, 0, 0)
            continue
        cpu_before, at = first[record.id]
        elapsed = max(time.monotonic() - at, 1e-6)
        percent = (reading.cpu_usage_ns - cpu_before) / (elapsed * NANO) * 100
        rx, tx = _network(int(record.state.get("Pid") or 0))
        usages[record.id] = Usage(
            cpu_percent=max(percent, 0.0),
            memory=reading.memory_usage,
            memory_limit=reading.memory_limit or host_memory,
            pids=reading.pids_current,
            net_rx=rx,
            net_tx=tx,
        )
    return usages
