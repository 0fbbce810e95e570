"""`stats`: a running container's CPU, memory, pids and network use, read from its cgroup
(twice, for a CPU percentage) and from its network namespace's counters; `sample` is one
reading's raw counters, for the API's stats document."""

import os
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


def interfaces(pid: int) -> dict[str, tuple[int, ...]]:
    """The counters of the container's interfaces other than lo, as /proc/net/dev lists
    them: bytes, packets, errors, dropped received (the first four), then sent (8 to 11)."""
    found: dict[str, tuple[int, ...]] = {}
    try:
        with open(f"/proc/{pid}/net/dev", encoding="ascii") as dev:
            for line in list(dev)[2:]:
                name, _, counters = line.partition(":")
                if name.strip() != "lo":
                    found[name.strip()] = tuple(int(v) for v in counters.split())
    except (OSError, ValueError):
        pass
    return {name: values for name, values in found.items() if len(values) >= 12}


def _network(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces other than lo."""
    counters = interfaces(pid).values()
    return sum(c[0] for c in counters), sum(c[8] for c in counters)


class Sample(NamedTuple):
    """One reading of a running container, the raw counters Docker's stats document holds
    (its clients compute the percentages from two of them): `system_ns` is the host's CPU
    time, busy or idle, over all CPUs."""

    read: float  # Unix time
    cpu_ns: int
    system_ns: int
    online_cpus: int
    memory: int
    memory_limit: int
    pids: int
    networks: dict[str, tuple[int, ...]]


def _system_ns() -> int:
    """Docker's system_cpu_usage: the first line of /proc/stat (user to softirq) in ns."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()[1:8]
        ticks = os.sysconf("SC_CLK_TCK")
        return sum(int(v) for v in fields) * NANO // ticks
    except (OSError, ValueError):
        return 0


def sample(paths: ContainerPaths, record: ContainerRecord) -> Sample | None:
    """A reading of the (refreshed) container, None when it is not running."""
    from berth.cgroups import open_cgroup

    if record.status not in (Status.RUNNING, Status.PAUSED):
        return None
    try:
        reading = open_cgroup(record.id, parent=paths.cgroup_parent).stats()
    except BerthError:
        return None
    return Sample(
        read=time.time(),
        cpu_ns=reading.cpu_usage_ns,
        system_ns=_system_ns(),
        online_cpus=len(os.sched_getaffinity(0)) or (os.cpu_count() or 1),
        memory=reading.memory_usage,
        memory_limit=reading.memory_limit or _host_memory(),
        pids=reading.pids_current,
        networks=interfaces(int(record.state.get("Pid") or 0)),
    )


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
