"""The default seccomp profile's shape, its capability/arch conditions, and profile files."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from berth.errors import InvalidArgument
from berth.runtime.seccomp_default import (
    DOCKER_DEFAULT_CAPS,
    default_profile,
    parse_profile,
    resolve,
)
from berth.runtime.seccomp_docker import docker_default

CLONE_NAMESPACES = 0x7E020000


def _load(path: Path, capabilities: Any) -> dict[str, Any]:
    return parse_profile(path.read_text(), capabilities, source=str(path))


def allowed(profile: dict[str, Any]) -> set[str]:
    """Names allowed without argument conditions."""
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def rules_for(profile: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [rule for rule in profile["syscalls"] if name in rule["names"]]


def test_default_is_an_eperm_allowlist_for_the_host_arches() -> None:
    profile = default_profile(DOCKER_DEFAULT_CAPS, arch="amd64")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == errno.EPERM
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert default_profile(DOCKER_DEFAULT_CAPS, arch="arm64")["architectures"] == [
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
    ]
    names = allowed(profile)
    for ordinary in ("read", "write", "openat", "execve", "futex", "epoll_wait", "chroot"):
        assert ordinary in names
    assert "arch_prctl" in names and "modify_ldt" in names
    # Not listed at all, so the default EPERM answers them whatever the capabilities.
    for denied in ("keyctl", "add_key", "request_key", "kexec_load", "userfaultfd", "swapon"):
        assert not rules_for(profile, denied)
    assert not rules_for(default_profile({"CAP_SYS_ADMIN"}, arch="amd64"), "keyctl")


def test_capability_conditions() -> None:
    base = allowed(default_profile(DOCKER_DEFAULT_CAPS, arch="amd64"))
    for cap, names in {
        "CAP_SYS_ADMIN": {"mount", "umount2", "unshare", "setns", "sethostname", "clone"},
        "CAP_SYS_PTRACE": {"kcmp", "pidfd_getfd", "process_madvise"},
        "CAP_SYS_MODULE": {"init_module", "finit_module", "delete_module"},
        "CAP_SYS_TIME": {"settimeofday", "clock_settime"},
        "CAP_SYS_BOOT": {"reboot"},
        "CAP_SYS_RAWIO": {"iopl", "ioperm"},
        "CAP_BPF": {"bpf"},
        "CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
    }.items():
        assert not names & base, cap
        assert names <= allowed(default_profile(DOCKER_DEFAULT_CAPS | {cap}, arch="amd64")), cap
    # Without the capability a granted chroot goes too.
    assert "chroot" not in allowed(default_profile(DOCKER_DEFAULT_CAPS - {"CAP_SYS_CHROOT"}))


def test_clone_without_cap_sys_admin_may_not_create_namespaces() -> None:
    profile = default_profile(DOCKER_DEFAULT_CAPS, arch="amd64")
    (clone,) = rules_for(profile, "clone")
    assert clone["args"] == [
        {"index": 0, "value": CLONE_NAMESPACES, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    (clone3,) = rules_for(profile, "clone3")
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == errno.ENOSYS
    # s390 passes clone's flags second.
    (s390_clone,) = rules_for(default_profile(DOCKER_DEFAULT_CAPS, arch="s390x"), "clone")
    assert s390_clone["args"][0]["index"] == 1
    # With CAP_SYS_ADMIN both are plainly allowed and the conditional rules are gone.
    admin = default_profile(DOCKER_DEFAULT_CAPS | {"CAP_SYS_ADMIN"}, arch="amd64")
    assert rules_for(admin, "clone") == rules_for(admin, "clone3")
    assert [r["action"] for r in rules_for(admin, "clone")] == ["SCMP_ACT_ALLOW"]
    assert "args" not in rules_for(admin, "clone")[0]


def test_socket_and_personality_arguments() -> None:
    profile = default_profile(DOCKER_DEFAULT_CAPS, arch="amd64")
    socket_args = [
        (r["args"][0]["op"], r["args"][0]["value"]) for r in rules_for(profile, "socket")
    ]
    # Every family but AF_ALG (38) and AF_VSOCK (40).
    assert socket_args == [("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)]
    personas = {r["args"][0]["value"] for r in rules_for(profile, "personality")}
    assert personas == {0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF}


def test_arch_conditions() -> None:
    arm = allowed(default_profile(DOCKER_DEFAULT_CAPS, arch="arm64"))
    assert {"cacheflush", "set_tls"} <= arm and "arch_prctl" not in arm
    assert "arch_prctl" in allowed(default_profile(DOCKER_DEFAULT_CAPS, arch="amd64"))


def test_min_kernel_condition() -> None:
    old = resolve(docker_default(), DOCKER_DEFAULT_CAPS, arch="amd64", kernel=(4, 4))
    new = resolve(docker_default(), DOCKER_DEFAULT_CAPS, arch="amd64", kernel=(5, 10))
    assert "ptrace" not in allowed(old)
    assert "ptrace" in allowed(new)


def test_profile_is_plain_json() -> None:
    profile = default_profile(DOCKER_DEFAULT_CAPS)
    assert json.loads(json.dumps(profile)) == profile


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_docker_file_with_conditions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []},
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "getpid", "action": "SCMP_ACT_ALLOW"},  # old single-name form
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_A"]}},
                {
                    "names": ["both"],
                    "action": "SCMP_ACT_ALLOW",
                    "includes": {"caps": ["CAP_A", "CAP_B"]},
                },
                {"names": ["clone"], "action": "SCMP_ACT_LOG", "excludes": {"caps": ["CAP_A"]}},
                {"names": ["x86only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}},
                {
                    "names": ["kill"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 13,
                    "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}],
                    "comment": "kept as an arg rule",
                },
            ],
        },
    )
    without = _load(path, set())
    assert without["defaultErrnoRet"] == 38
    assert without["syscalls"] == [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_LOG"},
        {
            "names": ["kill"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 13,
            "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        },
    ]
    with_a = [r["names"][0] for r in _load(path, {"CAP_A"})["syscalls"]]
    assert with_a == ["read", "getpid", "mount", "kill"]  # clone excluded, both needs CAP_B
    with_ab = [r["names"][0] for r in _load(path, {"CAP_A", "CAP_B"})["syscalls"]]
    assert "both" in with_ab
    assert _load(path, set())["architectures"][0] in (
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_AARCH64",
    )


def test_oci_style_file_passes_through(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}],
        },
    )
    assert _load(path, DOCKER_DEFAULT_CAPS) == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "decoding seccomp profile"),
        ("[]", "must be a JSON object"),
        ({"syscalls": []}, "unknown seccomp action None"),
        ({"defaultAction": "SCMP_ACT_MAYBE"}, "unknown seccomp action 'SCMP_ACT_MAYBE'"),
        ({"defaultAction": "SCMP_ACT_NOTIFY"}, "SCMP_ACT_NOTIFY is not supported"),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "NOPE"}]},
            "syscalls[0]: unknown seccomp action 'NOPE'",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
            "syscalls[0]: needs syscall names",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "LT"}]}
                ],
            },
            "unknown seccomp comparator 'LT'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}],
            },
            "errnoRet is only valid",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "x"}]},
            "'names' must be a list",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG", "includes": []}],
            },
            "'includes' must be an object",
        ),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["a"], "archMap": [{}]},
            "either 'architectures' or 'archMap'",
        ),
    ],
)
def test_bad_files_are_rejected_with_their_name(tmp_path: Path, content: Any, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InvalidArgument) as caught:
        _load(path, DOCKER_DEFAULT_CAPS)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_inline_profile_as_the_api_receives_it() -> None:
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})
    assert parse_profile(text, set(), source="SecurityOpt") == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [],
    }
    with pytest.raises(InvalidArgument, match=r"seccomp profile \(SecurityOpt\)"):
        parse_profile('{"defaultAction": 1}', set(), source="SecurityOpt")


def test_profile_module_does_not_load_libseccomp() -> None:
    # The engine builds specs with it; only the container init should load the library.
    code = (
        "import sys, berth.runtime.seccomp_default as m; m.default_profile(m.DOCKER_DEFAULT_CAPS);"
        "print('berth.sys.seccomp' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
