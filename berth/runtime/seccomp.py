"""Install an OCI `linux.seccomp` profile on the calling process, right before execve.

The container init calls `apply` as its last step before exec: the filter is inherited by the
user's process and every child. The profile is the OCI runtime spec's object, already resolved
(capability and arch conditions are decided by `seccomp_default` when the spec is built).

Behaviour follows runc where the spec leaves room: syscall names this libseccomp doesn't know
are skipped (a newer profile on an older host still loads); a rule whose action equals the
default action is dropped (it changes nothing and libseccomp refuses it); comparisons of the
same argument index are OR-ed as separate rules, since one rule can only AND distinct ones.

Loading never sets no_new_privs (unlike libseccomp's default): a container without
`no-new-privileges` must still run setuid programs. The kernel then requires CAP_SYS_ADMIN,
so without no_new_privs the load must come before the capabilities are dropped (runc orders
it the same way); the profile must then allow what the init still does after it.

Compiling the default profile costs ~10-15 ms here, most of it for the x86 and x32 ABIs a
64-bit filter must also cover; loading a compiled program costs well under 1 ms. So the work
splits in two: `prepare` compiles (or reads a compiled program from a cache directory, keyed
by the profile and libseccomp's identity) and may run before pivot_root, while the host's
cache is still visible; `Program.load` installs it right before execve. `apply` does both.
The cache directory must be writable by root only: a program in it is trusted as is.

Must import fast and work inside the init: stdlib, berth.sys.seccomp and berth.errors only.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
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

# OCI's linux.seccomp.flags: seccomp(2) flags, passed when the program is loaded.
_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": scmp.FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": scmp.FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": scmp.FILTER_FLAG_SPEC_ALLOW,
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


class Program:
    """A compiled filter and the seccomp(2) flags to load it with."""

    __slots__ = ("bpf", "flags")

    def __init__(self, bpf: bytes, flags: int) -> None:
        self.bpf = bpf
        self.flags = flags

    def load(self) -> None:
        """Install the filter on the calling thread; it stays across execve and fork."""
        try:
            scmp.load_program(self.bpf, self.flags)
        except SystemFailure as error:
            raise SystemFailure(
                f"loading the seccomp filter failed: {error.message}",
                hint="without no_new_privs the filter must be loaded while the process"
                " still holds CAP_SYS_ADMIN",
            ) from error


def _flags(profile: Mapping[str, Any]) -> int:
    flags = 0
    for flag in profile.get("flags") or ():
        value = _FLAGS.get(str(flag))
        if value is None:
            raise SystemFailure(f"seccomp: unsupported flag {flag!r}")
        flags |= value
    return flags


def compile_program(profile: Mapping[str, Any]) -> Program:
    """Build the filter `profile` describes and compile it, without loading it."""
    default = action_value(str(profile["defaultAction"]), profile.get("defaultErrnoRet"))
    flags = _flags(profile)
    with scmp.Filter(default) as filt:
        for arch in profile.get("architectures") or ():
            filt.add_arch(_arch_token(str(arch)))
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
        return Program(filt.export(), flags)


def _cache_key(profile: Mapping[str, Any]) -> str:
    # The key must be a cryptographic hash: a user's profile file must not be able to
    # collide with the default profile's key and be loaded in its place.
    from berth.small_hash import sha256

    text = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    identity = f"{scmp.library_identity()} {os.uname().machine}\n{text}"
    digest: str = sha256(identity.encode()).hexdigest()
    return digest


def prepare(profile: Mapping[str, Any], cache_dir: Path | None = None) -> Program:
    """The compiled program for `profile`, from `cache_dir` when it was compiled before.

    A cache that can't be read or written only costs time: the program is compiled afresh.
    """
    if cache_dir is None:
        return compile_program(profile)
    path = cache_dir / f"{_cache_key(profile)}.bpf"
    flags = _flags(profile)
    try:
        bpf = path.read_bytes()
    except OSError:
        bpf = b""
    if bpf and len(bpf) % scmp.BPF_INSTRUCTION_SIZE == 0:
        return Program(bpf, flags)
    program = compile_program(profile)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp.write_bytes(program.bpf)
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)
    return program


def apply(profile: Mapping[str, Any], cache_dir: Path | None = None) -> None:
    """Build (or fetch from `cache_dir`) the filter `profile` describes and load it.

    Raises SystemFailure when the profile can't be expressed or the kernel refuses the load.
    """
    prepare(profile, cache_dir).load()
