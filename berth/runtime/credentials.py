"""The process's credentials and limits, applied by the init (and the exec helper) as the
last steps before exec, in the order DESIGN §7b measured: drop the bounding set while
CAP_SETPCAP is still held, keep capabilities across setuid (PR_SET_KEEPCAPS) for a non-root
user, set groups, gid, uid, then no_new_privs, then capset, then ambient capabilities.
Stdlib (os, resource) and berth.sys only.
"""

from __future__ import annotations

import os
import resource

from berth.runtime.capabilities import NUMBERS
from berth.runtime.sync import InitError
from berth.sys import process as proc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.runtime.seccomp import Program


def capability_numbers(names: list[str]) -> set[int]:
    """The numbers of capability `names` (with or without CAP_); unknown names are skipped,
    as runc does for names a newer kernel knows."""
    numbers = set()
    for name in names:
        number = NUMBERS.get(name if name.startswith("CAP_") else f"CAP_{name}")
        if number is not None:
            numbers.add(number)
    return numbers


def set_rlimits(limits: list[dict[str, Any]]) -> list[str]:
    """Set the rlimits, each hard limit clamped to the inherited one (DESIGN §7b: root here
    lacks CAP_SYS_RESOURCE, so asking for more fails with EPERM, as Podman does); each clamp
    is returned as a warning for the caller to log."""
    warnings = []
    for limit in limits:
        number = getattr(resource, str(limit["type"]), None)
        if number is None:
            raise InitError(f"unknown rlimit {limit['type']}")
        _, inherited_hard = resource.getrlimit(number)
        hard = int(limit["hard"])
        if inherited_hard != resource.RLIM_INFINITY and hard > inherited_hard:
            warnings.append(
                f"{limit['type']} hard limit {hard} lowered to the inherited {inherited_hard}"
            )
            hard = inherited_hard
        resource.setrlimit(number, (min(int(limit["soft"]), hard), hard))
    return warnings


def _held() -> tuple[set[int], set[int]]:
    """The capabilities this process may pass on (permitted, bounding): a host's root can
    lack some (here CAP_SYS_RESOURCE), and asking for those makes capset fail."""
    held = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("CapPrm:", "CapBnd:")):
                mask = int(line.split()[1], 16)
                held[line[:6]] = {n for n in range(64) if mask >> n & 1}
    return held.get("CapPrm", set()), held.get("CapBnd", set())


def apply_credentials(process: dict[str, Any]) -> None:
    """Become the OCI `process` object's user with its capabilities."""
    caps = process.get("capabilities") or {}
    permitted_here, bounding_here = _held()
    bounding = capability_numbers(caps.get("bounding") or []) & bounding_here
    proc.drop_bounding(bounding)
    user = process.get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    if uid != 0:
        proc.prctl(proc.PR_SET_KEEPCAPS, 1)
    os.setgroups([int(g) for g in user.get("additionalGids") or []])
    os.setgid(gid)
    os.setuid(uid)
    if process.get("noNewPrivileges"):
        proc.prctl(proc.PR_SET_NO_NEW_PRIVS, 1)
    permitted = capability_numbers(caps.get("permitted") or []) & permitted_here
    inheritable = capability_numbers(caps.get("inheritable") or []) & permitted_here
    proc.capset(
        capability_numbers(caps.get("effective") or []) & permitted_here, permitted, inheritable
    )
    # The kernel raises an ambient capability only if it is permitted and inheritable; as
    # runc, the others are left out rather than failing (`runc spec` asks for 3 that way).
    ambient = capability_numbers(caps.get("ambient") or []) & permitted & inheritable
    if ambient:
        proc.raise_ambient(ambient)


def lock_down(process: dict[str, Any], program: Program | None) -> None:
    """The process's credentials and seccomp filter, in the order that works: without
    no_new_privs the kernel loads a filter only while CAP_SYS_ADMIN is held, so load it
    before dropping capabilities (as runc does); with no_new_privs, as late as can be."""
    no_new_privs = bool(process.get("noNewPrivileges"))
    if program is not None and not no_new_privs:
        program.load()
    apply_credentials(process)
    if program is not None and no_new_privs:
        program.load()
