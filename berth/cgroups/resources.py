"""What a container may use (`Resources`), what it used (`Stats`), and the pure renderings of
those values into cgroup file contents for v1 and v2.

Rendering is kept apart from file I/O so the conversions (shares to weight, `cpu.max`,
memory+swap to swap alone, the order of v1 memory writes) are unit-tested without cgroups.
Stdlib and berth.errors only.
"""

import math
from typing import NamedTuple

from berth.errors import InvalidArgument

DEFAULT_CPU_PERIOD = 100_000
# v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages);
# anything this large is no limit at all.
UNLIMITED_THRESHOLD = 1 << 62


class Resources(NamedTuple):
    """Limits as Docker's flags give them; None leaves a limit as it is (unlimited when new).

    `memory_swap` is memory + swap like `docker --memory-swap` and v1's memsw (-1 unlimited);
    v2 limits swap alone, so V2 writes `memory_swap - memory`. `memory`, `cpu_quota` and
    `pids_limit` accept -1 (pids: any value <= 0) to lift a limit in `update`. An empty
    cpuset or zero shares count as unset, as in Docker (an empty v1 cpuset admits no task).
    """

    memory: int | None = None
    memory_swap: int | None = None
    memory_reservation: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    memory_swappiness: int | None = None  # v1 memory.swappiness (0-100); v2 has none
    oom_kill_disable: bool | None = None  # v1 memory.oom_control; v2 has none


class Stats(NamedTuple):
    """A point-in-time reading; `memory_limit` None means unlimited."""

    memory_usage: int
    memory_limit: int | None
    cpu_usage_ns: int
    pids_current: int
    oom_kills: int


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares (2..262144, default 1024) to v2 cpu.weight (1..10000, default 100).

    runc (>= 1.3) and crun use a quadratic in log2(shares) through the three anchor points
    2->1, 1024->100, 262144->10000. The older linear map gave the default 1024 a weight of
    39, so a container that asked for nothing got well under half a sibling's CPU.
    """
    if shares <= 2:
        return 1
    if shares >= 262_144:
        return 10_000
    level = math.log2(shares)
    exponent = (level * level + 125 * level) / 612 - 7 / 34
    return math.ceil(round(10**exponent, 9))  # round: 1024 must give exactly 100


def cpu_max(quota: int | None, period: int | None, current: str = "max 100000") -> str | None:
    """The v2 `cpu.max` line ("QUOTA PERIOD" or "max PERIOD"), or None when nothing changes.

    Either half may be given alone; the other is kept from `current` (the file's content), so
    `docker update --cpu-period` does not lift an existing quota.
    """
    if quota is None and period is None:
        return None
    old_quota, _, old_period = current.strip().partition(" ")
    quota_text = (old_quota or "max") if quota is None else ("max" if quota < 0 else str(quota))
    if period is None:
        period = int(old_period) if old_period.isdigit() else DEFAULT_CPU_PERIOD
    return f"{quota_text} {period}"


def swap_max(memory: int | None, memory_swap: int) -> str:
    """v2 `memory.swap.max` from Docker's memory+swap total: swap alone, "max" for -1.

    `memory` is the memory limit in force (None or -1: none). Swap equal to memory means no
    swap at all, as in Docker.
    """
    if memory_swap == -1:
        return "max"
    if memory is None or memory < 0:
        raise InvalidArgument("a memory+swap limit needs a memory limit too")
    if memory_swap < memory:
        raise InvalidArgument(
            f"memory+swap limit {memory_swap} must be at least the memory limit {memory}"
        )
    return str(memory_swap - memory)


def memory_first(new_memory: int, current_memsw: int) -> bool:
    """Whether v1 must write memory.limit_in_bytes before memory.memsw.limit_in_bytes.

    The kernel keeps memsw >= memory after every single write. Writing memory first works
    when the new memory fits under the memsw in force; otherwise memsw must grow first (the
    new memsw is >= the new memory >= the old memory, so that write is accepted).
    Both values are bytes with -1 meaning unlimited.
    """
    return _bytes(new_memory) <= _bytes(current_memsw)


def _bytes(value: int) -> float:
    return math.inf if value < 0 or value >= UNLIMITED_THRESHOLD else value


def limit_or_none(text: str) -> int | None:
    """A limit file's content as bytes, None for "max" or v1's huge no-limit value."""
    text = text.strip()
    if not text.isdigit():
        return None
    value = int(text)
    return None if value >= UNLIMITED_THRESHOLD else value


def keyed(text: str) -> dict[str, int]:
    """`key value` lines (cpu.stat, memory.events, memory.oom_control) as a dict."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        value = value.strip()
        if value.lstrip("-").isdigit():
            values[key] = int(value)
    return values
