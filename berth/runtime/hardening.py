"""What keeps a container from reaching the runtime's own process while it still runs
Python inside the container's namespaces (the init after pivot_root, the exec helper after
setns). Stdlib and berth.sys only.
"""

from __future__ import annotations

import sys

from berth.sys import process as proc

PR_SET_DUMPABLE = 4


def seal_imports() -> None:
    """Allow no more imports from files. Once the process sees the container's root, a lazy
    import (a codec, a traceback's linecache) would run a file the image controls, as root
    and before capabilities drop; builtin and frozen modules stay importable."""
    sys.meta_path[:] = [
        finder
        for finder in sys.meta_path
        if getattr(finder, "__name__", "") in ("BuiltinImporter", "FrozenImporter")
    ]
    sys.path_importer_cache.clear()
    sys.path.clear()


def undumpable() -> None:
    """Make this process non-dumpable until its execve: no container process may then open
    /proc/PID/exe (the host's Python) to overwrite it (the CVE-2019-5736 class) or ptrace it
    without CAP_SYS_PTRACE, which Docker's default set lacks."""
    proc.prctl(PR_SET_DUMPABLE, 0)
