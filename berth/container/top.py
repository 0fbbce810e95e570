"""`top`: the container's processes, listed by the host's `ps`, as Docker's daemon does it
(its options, its columns, only the lines whose PID is in the container's cgroup)."""

from __future__ import annotations

import subprocess

from berth.container import state
from berth.container.paths import ContainerPaths
from berth.container.records import ContainerRecord
from berth.errors import InvalidArgument, SystemFailure

PS = "/bin/ps"
PS_TIMEOUT = 30


def top(
    paths: ContainerPaths, record: ContainerRecord, ps_args: list[str]
) -> tuple[list[str], list[list[str]]]:
    """(titles, rows) of `ps ps_args` for the (refreshed) container's processes."""
    from berth.cgroups import open_cgroup

    state.check_running(record.id, record.status)
    pids = set(open_cgroup(record.id, parent=paths.cgroup_parent).pids())
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
