"""Install an OCI `linux.seccomp` profile on the calling process, right before execve.

The container init calls `apply` as its last step before exec: the filter is inherited by the
user's process and every child. The profile is the OCI runtime spec's object, already resolved
(capability and arch conditions are decided by `seccomp_default` when the spec is built).

Behaviour follows runc where the spec leaves room: syscall names this libseccomp doesn't know
are skipped (a newer profile on an older host still loads); a rule whose action equals the
default action is dropped (it changes nothing and libseccomp refuses it); comparisons of the
same argument index are OR-ed as separate rules, since one rule can only AND distinct ones.

The filter is built with CTL_NNP off so it loads without setting no_new_privs: a container
without `no-new-privileges` must still run setuid programs. The kernel then requires
CAP_SYS_ADMIN, so without no_new_privs this must run before the capabilities are dropped.

Must import fast and work inside the init: ctypes via berth.sys.seccomp and berth.errors only.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any

from berth.errors import SystemFailure
from berth.sys import seccomp as scmp

_COMPARATORS = {
    "SCMP_CMP_NE": scmp.CMP_NE,
    "SCMP_CMP_LT": scmp.CMP_LT,
    "SCMP_CMP_LE": scmp.CMP_LE,
    "SCMP_CMP_EQ": scmp.CMP_EQ,
    "SCMP_CMP_GE": scmp.CMP_GE,
    "SCMP_CMP_GT": scmp.CMP_GT,
    "SCMP_CMP_MASKED_EQ": scmp.CMP_MASKED_EQ,
}

# OCI's linux.seccomp.flags, as libseccomp filter attributes.
_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": scmp.FLTATR_CTL_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": scmp.FLTATR_CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,  # SCMP_FLTATR_CTL_SSB
}


def action_value(name: str, errno_ret: int | None) -> int:
    """libseccomp's action for an OCI action name; ERRNO/TRACE default to EPERM as runc does."""
    fixed = {
        "SCMP_ACT_KILL": scmp.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": scmp.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": scmp.ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP": scmp.ACT_TRAP,
        "SCMP_ACT_ALLOW": scmp.ACT_ALLOW,
        "SCMP_ACT_LOG": scmp.ACT_LOG,
    }
    if name in fixed:
        return fixed[name]
    code = errno.EPERM if errno_ret is None else int(errno_ret)
    if name == "SCMP_ACT_ERRNO":
        return scmp.act_errno(code)
    if name == "SCMP_ACT_TRACE":
        return scmp.act_trace(code)
    # SCMP_ACT_NOTIFY needs a listener process berth doesn't run.
    raise SystemFailure(f"seccomp: unsupported action {name!r}")


def _arch_token(name: str) -> int:
    # OCI says "SCMP_ARCH_X86_64"; libseccomp's resolver wants "x86_64".
    token = scmp.resolve_arch(name.removeprefix("SCMP_ARCH_").lower())
    if not token:
        raise SystemFailure(f"seccomp: unknown architecture {name!r}")
    return token


def _arg_groups(args: Sequence[Mapping[str, Any]]) -> list[list[scmp.ArgCmp]]:
    """The rules one syscall entry becomes: one with all args, or one per arg (runc's OR)."""
    cmps = []
    for arg in args:
        op = _COMPARATORS.get(str(arg.get("op")))
        if op is None:
            raise SystemFailure(f"seccomp: unknown comparator {arg.get('op')!r}")
        cmps.append(
            scmp.ArgCmp(
                int(arg["index"]), op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))
            )
        )
    indexes = [c.index for c in cmps]
    if len(set(indexes)) != len(indexes):
        return [[c] for c in cmps]
    return [cmps]


def apply(profile: Mapping[str, Any]) -> None:
    """Build the filter `profile` describes and load it on the calling thread.

    Raises SystemFailure when the profile can't be expressed or the kernel refuses the load.
    """
    default = action_value(str(profile["defaultAction"]), profile.get("defaultErrnoRet"))
    with scmp.Filter(default) as filt:
        filt.set_attr(scmp.FLTATR_CTL_NNP, 0)
        for arch in profile.get("architectures") or ():
            filt.add_arch(_arch_token(str(arch)))
        for flag in profile.get("flags") or ():
            attr = _FLAGS.get(str(flag))
            if attr is None:
                raise SystemFailure(f"seccomp: unsupported flag {flag!r}")
            filt.set_attr(attr, 1)
        for rule in profile.get("syscalls") or ():
            action = action_value(str(rule["action"]), rule.get("errnoRet"))
            if action == default:
                continue
            groups = _arg_groups(rule.get("args") or ())
            for name in rule.get("names") or ():
                number = scmp.resolve_syscall(str(name))
                if number == scmp.NR_SCMP_ERROR:
                    continue  # unknown to this libseccomp: skipped, as runc does
                for cmps in groups:
                    result = filt.add_rule(action, number, cmps)
                    if result < 0:
                        raise SystemFailure(
                            f"seccomp: adding a rule for {name}: {errno.errorcode.get(-result)}"
                        )
        try:
            filt.load()
        except SystemFailure as error:
            raise SystemFailure(
                f"loading the seccomp filter failed: {error.message}",
                hint="without no_new_privs the filter must be loaded while the process"
                " still holds CAP_SYS_ADMIN",
            ) from error
