"""Container tools beside the lifecycle: prune, top, stats and update.

`top` lists the processes of the container's cgroup with the host's `ps`, as Docker's daemon
does (its options, its columns, only the lines whose PID is in the group). `stats` reads the
cgroup (CgroupManager.stats) twice to give a CPU percentage. `update` applies new limits to
the live cgroup and stores them in the container's HostConfig, so the next start keeps them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from berth.errors import BerthError, Conflict, InvalidArgument, SystemFailure

if TYPE_CHECKING:
    from berth.container import ContainerRecord
    from berth.engine.engine import Engine

PS = "/bin/ps"
PS_TIMEOUT = 30
STATS_INTERVAL = 0.5
MIN_MEMORY = 6 * 1024 * 1024
NANO = 1_000_000_000
CPU_PERIOD = 100_000
RUNNING = ("running", "paused", "restarting")


def _tree_size(path: str) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for file in files:
            try:
                total += os.lstat(os.path.join(directory, file)).st_size
            except OSError:
                continue
    return total


def prune(engine: Engine, labels: list[str], until: float | None = None) -> tuple[list[str], int]:
    """Remove every container that is not running (created ones too, as Docker), with the
    labels asked for and created before `until` (a Unix time) if given; returns the ids
    removed and the bytes their writable layers held."""
    removed: list[str] = []
    reclaimed = 0
    containers = engine.containers
    for record in containers.all():
        if record.status in RUNNING or not all(_label(record, c) for c in labels):
            continue
        if until is not None and _created(record) >= until:
            continue
        size = _tree_size(str(containers.directory(record.id) / "diff"))
        try:
            containers.remove(record)
        except BerthError:
            continue
        removed.append(record.id)
        reclaimed += size
    return removed, reclaimed


def _created(record: ContainerRecord) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(record.created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _label(record: ContainerRecord, condition: str) -> bool:
    labels = record.config.get("Labels") or {}
    negate = False
    key, eq, value = condition.partition("=")
    if key.endswith("!"):
        key, negate = key[:-1], True
    found = key in labels and (not eq or labels[key] == value)
    return found != negate


def _cgroup(engine: Engine, record: ContainerRecord) -> Any:
    from berth.cgroups import open_cgroup

    return open_cgroup(record.id, parent=engine.containers.cgroup_parent)


# -- top ---------------------------------------------------------------------------------------


def top(
    engine: Engine, record: ContainerRecord, ps_args: list[str]
) -> tuple[list[str], list[list[str]]]:
    """(titles, rows) of `ps ps_args` for the container's processes."""
    record = engine.containers.refresh(record)
    if record.status not in ("running", "paused"):
        raise Conflict(f"Container {record.id} is not running")
    pids = set(_cgroup(engine, record).pids())
    argv = [PS, *(ps_args or ["-ef"])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PS_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SystemFailure(f"ps: {error}") from None
    if done.returncode != 0:
        raise SystemFailure(
            f"Error running ps: exit status {done.returncode}: {done.stderr.strip()}"
        )
    return parse_ps(done.stdout, pids)


def parse_ps(output: str, pids: set[int]) -> tuple[list[str], list[list[str]]]:
    """Docker's parsePSOutput: split the header, keep lines whose PID column is in `pids`;
    the last column (the command) keeps its spaces."""
    lines = output.splitlines()
    if not lines:
        return [], []
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    index = titles.index("PID")
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split(None, len(titles) - 1)
        try:
            pid = int(fields[index])
        except (IndexError, ValueError):
            raise InvalidArgument(f"Unexpected pid '{fields[index]}': in ps output") from None
        if pid in pids:
            rows.append(fields)
    return titles, rows


# -- stats -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
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


def stats(engine: Engine, records: list[ContainerRecord]) -> dict[str, Usage]:
    """One reading per running container (two samples apart, for the CPU percentage);
    containers not running read as zeros."""
    host_memory = _host_memory()
    first: dict[str, tuple[int, float]] = {}
    groups: dict[str, Any] = {}
    for record in records:
        if record.status in ("running", "paused"):
            group = _cgroup(engine, record)
            try:
                first[record.id] = (group.stats().cpu_usage_ns, time.monotonic())
            except BerthError:
                continue
            groups[record.id] = group
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


# -- update ------------------------------------------------------------------------------------


def update(engine: Engine, record: ContainerRecord, changes: dict[str, Any]) -> None:
    """Apply HostConfig `changes` (Docker's names: Memory, MemorySwap, MemoryReservation,
    NanoCpus, CpuShares, CpuQuota, CpuPeriod, CpusetCpus, PidsLimit, RestartPolicy) to the
    live cgroup, then store them."""
    from berth.cgroups import Resources

    record = engine.containers.refresh(record)
    host_config = {**record.host_config, **changes}
    if host_config.get("AutoRemove") and (changes.get("RestartPolicy") or {}).get("Name"):
        raise InvalidArgument(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        )
    memory = int(host_config.get("Memory") or 0)
    if "Memory" in changes and 0 < memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if record.status in ("running", "paused", "restarting"):
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
        _cgroup(engine, record).update(resources)
    with engine.database.transaction() as cursor:
        cursor.execute(
            "UPDATE containers SET host_config = ? WHERE id = ?",
            (json.dumps(host_config), record.id),
        )
