"""berth's own OCI runtime: bundles (config.json + rootfs) to isolated processes.

`Runtime.create` starts the container init as a fresh exec (`python -m berth.runtime.init`,
never a fork of the caller); the init builds the namespaces, mounts and credentials, then
waits until `Runtime.start` lets it exec the user's process. Imports berth.sys, berth.errors
and the stdlib only.
"""

from berth.runtime.runtime import CommandFailed, Runtime, RuntimeState, Stdio

__all__ = ["CommandFailed", "Runtime", "RuntimeState", "Stdio"]
