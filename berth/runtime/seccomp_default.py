"""Docker-format seccomp profiles as OCI `linux.seccomp`: Docker's default profile (its data is
in `seccomp_docker`) and the files `--security-opt seccomp=FILE` names.

The default profile is turned into the OCI object by the same resolver that reads
`--security-opt seccomp=FILE` (`parse_profile` of the file's JSON, which the CLI stores at
create as the Engine API receives it), so all paths decide conditions the same way: rules with
`includes`/`excludes` on capabilities, arches and kernel versions. Resolution happens when the
spec is built, against the container's capability (bounding) set and the host's arch, exactly
when Docker does it.

Pure code plus reading the profile file: must not import berth.sys (libseccomp is loaded only
by `berth.runtime.seccomp`, in the container init).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from berth.errors import InvalidArgument
from berth.runtime.capabilities import DOCKER_DEFAULT
from berth.runtime.seccomp_docker import docker_default

ACTIONS = frozenset(
    {
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
    }
)
COMPARATORS = frozenset(
    {
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    }
)

# Docker's (Go's) arch names, which profiles use in includes/excludes, by `uname -m`.
_DOCKER_ARCH = {
    "x86_64": "amd64",
    "i386": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}
# The libseccomp arch (the key of a profile's archMap) for a Docker arch name.
_SCMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64",
    "x86": "SCMP_ARCH_X86",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "ppc64": "SCMP_ARCH_PPC64",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "loongarch64": "SCMP_ARCH_LOONGARCH64",
    "mips64": "SCMP_ARCH_MIPS64",
}

DOCKER_DEFAULT_CAPS = frozenset(DOCKER_DEFAULT)


def host_arch() -> str:
    """The host's arch in Docker's names ("amd64"), which profile conditions use."""
    machine = os.uname().machine
    return _DOCKER_ARCH.get(machine, machine)


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def _parse_version(text: str, where: str) -> tuple[int, int]:
    try:
        major, _, minor = str(text).partition(".")
        return int(major), int(minor or 0)
    except ValueError:
        raise InvalidArgument(f"{where}: bad minKernel {text!r}") from None


def _object(value: Any, field: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{where}: '{field}' must be an object")
    return value


def _list(value: Any, field: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"{where}: '{field}' must be a list")
    return value


def _applies(
    rule: Mapping[str, Any],
    caps: Collection[str],
    arch: str,
    kernel: tuple[int, int],
    where: str,
) -> bool:
    """Docker's conditions: every include must hold; any exclude that holds drops the rule."""
    excludes = _object(rule.get("excludes"), "excludes", where)
    if arch in (excludes.get("arches") or ()):
        return False
    if any(cap in caps for cap in excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and kernel >= _parse_version(excludes["minKernel"], where):
        return False
    includes = _object(rule.get("includes"), "includes", where)
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if not all(cap in caps for cap in includes.get("caps") or ()):
        return False
    minimum = includes.get("minKernel")
    return not minimum or kernel >= _parse_version(minimum, where)


def _check_action(name: Any, where: str) -> str:
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"{where}: SCMP_ACT_NOTIFY is not supported by berth")
    if name not in ACTIONS:
        raise InvalidArgument(f"{where}: unknown seccomp action {name!r}")
    return str(name)


def _errno_ret(value: Any, action: str, where: str) -> int | None:
    if value is None:
        return None
    if action not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        raise InvalidArgument(f"{where}: errnoRet is only valid with SCMP_ACT_ERRNO or TRACE")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF:
        raise InvalidArgument(f"{where}: bad errnoRet {value!r}")
    return value


def _args(raw: Iterable[Any], where: str) -> list[dict[str, Any]]:
    args = []
    for arg in raw:
        if not isinstance(arg, Mapping):
            raise InvalidArgument(f"{where}: a syscall argument must be an object")
        op = arg.get("op")
        if op not in COMPARATORS:
            raise InvalidArgument(f"{where}: unknown seccomp comparator {op!r}")
        try:
            index, value = int(arg.get("index", 0)), int(arg.get("value", 0))
            value_two = int(arg.get("valueTwo", 0))
        except (TypeError, ValueError):
            raise InvalidArgument(f"{where}: bad syscall argument {dict(arg)!r}") from None
        if not 0 <= index <= 5:
            raise InvalidArgument(f"{where}: syscall argument index {index} is not 0-5")
        args.append({"index": index, "value": value, "valueTwo": value_two, "op": op})
    return args


def resolve(
    profile: Mapping[str, Any],
    capabilities: Collection[str],
    *,
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
    where: str = "seccomp profile",
) -> dict[str, Any]:
    """Turn a Docker-format profile into the OCI `linux.seccomp` object for one container.

    `capabilities` is the container's bounding set; `arch` is a Docker arch name (the host's
    by default). Raises InvalidArgument, naming `where`, for anything a filter can't express.
    """
    arch = arch or host_arch()
    kernel = kernel or _kernel_version()
    caps = frozenset(capabilities)
    default = _check_action(profile.get("defaultAction"), where)
    out: dict[str, Any] = {"defaultAction": default}
    default_errno = _errno_ret(profile.get("defaultErrnoRet"), default, where)
    if default_errno is not None:
        out["defaultErrnoRet"] = default_errno
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(f"{where}: use either 'architectures' or 'archMap', not both")
    arches = list(profile.get("architectures") or ())
    native = _SCMP_ARCH.get(arch)
    for raw_entry in _list(profile.get("archMap"), "archMap", where):
        entry = _object(raw_entry, "archMap entry", where)
        if entry.get("architecture") == native:
            arches = [native, *_list(entry.get("subArchitectures"), "subArchitectures", where)]
            break
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    rules = []
    for number, raw in enumerate(profile.get("syscalls") or ()):
        here = f"{where}: syscalls[{number}]"
        if not isinstance(raw, Mapping):
            raise InvalidArgument(f"{here}: must be an object")
        if raw.get("name") and raw.get("names"):
            raise InvalidArgument(f"{here}: use either 'name' or 'names', not both")
        names = [raw["name"]] if raw.get("name") else _list(raw.get("names"), "names", here)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidArgument(f"{here}: needs syscall names")
        action = _check_action(raw.get("action"), here)
        errno_ret = _errno_ret(raw.get("errnoRet"), action, here)
        args = _args(raw.get("args") or (), here)
        if not _applies(raw, caps, arch, kernel, here):
            continue
        rule: dict[str, Any] = {"names": names, "action": action}
        if errno_ret is not None:
            rule["errnoRet"] = errno_ret
        if args:
            rule["args"] = args
        rules.append(rule)
    out["syscalls"] = rules
    return out


def default_profile(capabilities: Collection[str], *, arch: str | None = None) -> dict[str, Any]:
    """Docker's default profile resolved for a container with these capabilities."""
    return resolve(docker_default(), capabilities, arch=arch, where="default seccomp profile")


def parse_profile(text: str, capabilities: Collection[str], *, source: str) -> dict[str, Any]:
    """A Docker-format profile given as JSON text, as the Engine API receives it (the docker
    CLI reads the file and sends `seccomp=<json>` in SecurityOpt). `source` names it in errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgument(f"decoding seccomp profile ({source}) failed: {error}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"seccomp profile ({source}): must be a JSON object")
    return resolve(data, capabilities, where=f"seccomp profile ({source})")
