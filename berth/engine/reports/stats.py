"""`GET /containers/{id}/stats`'s document: Docker's StatsResponse from two samples of a
container (berth.container.stats.Sample), the current one and the one before, whose
differences the clients turn into percentages (`docker stats` divides the CPU time the
container used by the host's over the same interval)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from berth.container import ContainerRecord
    from berth.container.stats import Sample

NEVER = "0001-01-01T00:00:00Z"
_NETWORK_FIELDS = (
    ("rx_bytes", 0),
    ("rx_packets", 1),
    ("rx_errors", 2),
    ("rx_dropped", 3),
    ("tx_bytes", 8),
    ("tx_packets", 9),
    ("tx_errors", 10),
    ("tx_dropped", 11),
)
_BLKIO_KEYS = (
    "io_service_bytes_recursive",
    "io_serviced_recursive",
    "io_queue_recursive",
    "io_service_time_recursive",
    "io_wait_time_recursive",
    "io_merged_recursive",
    "io_time_recursive",
    "sectors_recursive",
)


def timestamp(seconds: float | None) -> str:
    """RFC 3339 with nanoseconds, as Go prints `read` and `preread`."""
    if not seconds:
        return NEVER
    whole = int(seconds)
    fraction = f"{seconds - whole:.9f}"[2:]
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction}Z"


def _cpu(sample: Sample | None) -> dict[str, Any]:
    if sample is None:  # Docker's zero CPUStats: a client computes no percentage from it
        return {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }
    return {
        "cpu_usage": {
            "total_usage": sample.cpu_ns,
            "usage_in_kernelmode": 0,  # the cgroup's total only: its split is not read
            "usage_in_usermode": 0,
        },
        "system_cpu_usage": sample.system_ns,
        "online_cpus": sample.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def document(
    record: ContainerRecord, current: Sample | None, previous: Sample | None
) -> dict[str, Any]:
    """The StatsResponse of `record`; a container that is not running reads as zeros."""
    result: dict[str, Any] = {
        "name": f"/{record.name}",
        "id": record.id,
        "read": timestamp(current.read if current else None),
        "preread": timestamp(previous.read if previous else None),
        "pids_stats": {},
        "blkio_stats": dict.fromkeys(_BLKIO_KEYS),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(current),
        "precpu_stats": _cpu(previous),
        "memory_stats": {},
    }
    if current is None:
        return result
    pids: dict[str, int] = {"current": current.pids}
    limit = int(record.host_config.get("PidsLimit") or 0)
    if limit > 0:
        pids["limit"] = limit
    result["pids_stats"] = pids
    result["memory_stats"] = {
        "usage": current.memory,
        "limit": current.memory_limit,
        "stats": {},
    }
    if current.networks:
        result["networks"] = {
            name: {key: counters[index] for key, index in _NETWORK_FIELDS}
            for name, counters in current.networks.items()
        }
    return result
