"""Control groups for containers: one interface over cgroup v1 and v2 (DESIGN §2, §7b).

`open_cgroup(name, parent=...)` detects the host's layout and returns a manager for
`<hierarchy>/<parent>/<name>`. Only berth.errors and the stdlib: no subprocesses.
"""

from berth.cgroups.layout import Layout, detect
from berth.cgroups.manager import CgroupManager, Resources, Stats, open_cgroup

__all__ = ["CgroupManager", "Layout", "Resources", "Stats", "detect", "open_cgroup"]
