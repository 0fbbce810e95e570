"""berth's own OCI runtime: bundles (config.json + rootfs) to isolated processes.

`Runtime.create` starts the container init as a fresh exec (`python -m berth.runtime.init`,
never a fork of the caller); the init builds the namespaces, mounts and credentials, then
waits until `Runtime.start` lets it exec the user's process. Imports berth.sys, berth.errors
and the stdlib only; `berth-runtime` (cli.py), the same runtime behind runc's command line for
conmon and podman, also uses berth.cgroups.

The exports are loaded lazily (PEP 562): `python -m berth.runtime.init` imports this
package first, and the caller side (subprocess, dataclasses) would cost the init ~20 ms of
imports on every container start.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs the init ~3 ms
if TYPE_CHECKING:
    from typing import Any

    from berth.runtime.runtime import Runtime, RuntimeState
    from berth.runtime.spawn import CommandFailed, Stdio

__all__ = ["CommandFailed", "Runtime", "RuntimeState", "Stdio"]


def __getattr__(name: str) -> Any:
    if name in ("Runtime", "RuntimeState"):
        from berth.runtime import runtime

        return getattr(runtime, name)
    if name in ("CommandFailed", "Stdio"):
        from berth.runtime import spawn

        return getattr(spawn, name)
    raise AttributeError(f"module 'berth.runtime' has no attribute {name!r}")
