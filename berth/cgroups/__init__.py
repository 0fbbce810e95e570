"""Control groups for containers: one interface over cgroup v1 and v2 (DESIGN §2, §7b).

`open_cgroup(name, parent=...)` detects the host's layout and returns a `CgroupManager` for
`<hierarchy>/<parent>/<name>`; `detect()` reports the layout (`berth info`, tests).
Sits below container and runtime: imports only berth.errors and the stdlib, and runs no
subprocesses.
"""

from berth.cgroups.layout import Hierarchy, Layout, detect
from berth.cgroups.manager import CgroupManager, open_cgroup
from berth.cgroups.resources import Resources, Stats, shares_to_weight

__all__ = [
    "CgroupManager",
    "Hierarchy",
    "Layout",
    "Resources",
    "Stats",
    "detect",
    "open_cgroup",
    "shares_to_weight",
]
