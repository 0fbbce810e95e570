"""A typed ctypes shim over libseccomp: build a BPF syscall filter and load it.

Why our own shim and not pyseccomp: pyseccomp's last release is from 2021 and it mirrors
libseccomp's Cython API object by object; berth needs seven functions, and a shim of that
size is easier to keep typed (`mypy --strict`) than a stale untyped dependency.

libseccomp.so.2 is opened at import time, by soname: the container init imports this module
before pivot_root, after which the host's /lib is gone. Imports only ctypes and berth.errors.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

from berth.errors import SystemFailure

_lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)

# Actions (seccomp.h). ERRNO and TRACE carry a 16-bit value in the low bits.
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

# Argument comparators (enum scmp_compare).
CMP_NE = 1
CMP_LT = 2
CMP_LE = 3
CMP_EQ = 4
CMP_GE = 5
CMP_GT = 6
CMP_MASKED_EQ = 7

# Filter attributes (enum scmp_filter_attr).
FLTATR_ACT_DEFAULT = 1
FLTATR_ACT_BADARCH = 2
FLTATR_CTL_NNP = 3
FLTATR_CTL_TSYNC = 4
FLTATR_CTL_LOG = 6

# What seccomp_syscall_resolve_name returns for a name libseccomp doesn't know at all.
# Names known on another arch only (chown32 on x86_64) resolve to negative pseudo numbers,
# which libseccomp maps per architecture when the rule is added.
NR_SCMP_ERROR = -1


def act_errno(errno_ret: int) -> int:
    """The ERRNO action returning `errno_ret` from the denied call."""
    return ACT_ERRNO | (errno_ret & 0xFFFF)


def act_trace(message: int) -> int:
    """The TRACE action passing `message` to the tracer."""
    return ACT_TRACE | (message & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class ArgCmp:
    """One comparison of a syscall argument: `arg op datum_a` (MASKED_EQ: `arg & a == b`).

    A plain class: the container init imports this module, and dataclasses (with inspect)
    would add ~10 ms to every container start.
    """

    __slots__ = ("datum_a", "datum_b", "index", "op")

    def __init__(self, index: int, op: int, datum_a: int, datum_b: int = 0) -> None:
        self.index = index
        self.op = op
        self.datum_a = datum_a
        self.datum_b = datum_b

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArgCmp) and (
            (self.index, self.op, self.datum_a, self.datum_b)
            == (other.index, other.op, other.datum_a, other.datum_b)
        )

    def __hash__(self) -> int:
        return hash((self.index, self.op, self.datum_a, self.datum_b))

    def __repr__(self) -> str:
        return f"ArgCmp({self.index}, {self.op}, {self.datum_a}, {self.datum_b})"


_lib.seccomp_init.argtypes = (ctypes.c_uint32,)
_lib.seccomp_init.restype = ctypes.c_void_p
_lib.seccomp_release.argtypes = (ctypes.c_void_p,)
_lib.seccomp_release.restype = None
_lib.seccomp_load.argtypes = (ctypes.c_void_p,)
_lib.seccomp_load.restype = ctypes.c_int
_lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
_lib.seccomp_attr_set.restype = ctypes.c_int
_lib.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
_lib.seccomp_arch_add.restype = ctypes.c_int
_lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
_lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
_lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
_lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
_lib.seccomp_rule_add_array.argtypes = (
    ctypes.c_void_p,
    ctypes.c_uint32,
    ctypes.c_int,
    ctypes.c_uint,
    ctypes.POINTER(_ArgCmp),
)
_lib.seccomp_rule_add_array.restype = ctypes.c_int
_lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
_lib.seccomp_export_bpf.restype = ctypes.c_int
_lib.seccomp_api_get.argtypes = ()
_lib.seccomp_api_get.restype = ctypes.c_uint


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


_lib.seccomp_version.argtypes = ()
_lib.seccomp_version.restype = ctypes.POINTER(_Version)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


# seccomp(2) operations and flags, for loading a program compiled earlier.
SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAG_TSYNC = 1
FILTER_FLAG_LOG = 2
FILTER_FLAG_SPEC_ALLOW = 4
BPF_INSTRUCTION_SIZE = 8  # struct sock_filter

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, call: str) -> None:
    # libseccomp returns -errno rather than setting errno.
    if result < 0:
        raise SystemFailure(f"{call}: {os.strerror(-result)}")


def resolve_syscall(name: str) -> int:
    """The syscall number for the native arch, a pseudo number, or NR_SCMP_ERROR."""
    return int(_lib.seccomp_syscall_resolve_name(name.encode()))


def resolve_arch(name: str) -> int:
    """libseccomp's token for an arch name ("x86_64", "x32", "aarch64"); 0 when unknown."""
    return int(_lib.seccomp_arch_resolve_name(name.encode()))


def library_identity() -> str:
    """What besides the profile decides the compiled program: libseccomp's version and the
    kernel features it detected (its API level). Part of a compiled-program cache key."""
    version = _lib.seccomp_version().contents
    return (
        f"libseccomp {version.major}.{version.minor}.{version.micro} api {_lib.seccomp_api_get()}"
    )


def load_program(program: bytes, flags: int = 0) -> None:
    """Install a compiled classic-BPF filter with seccomp(2) on the calling thread.

    Like seccomp_load without no_new_privs: the kernel wants no_new_privs or CAP_SYS_ADMIN.
    """
    if not program or len(program) % BPF_INSTRUCTION_SIZE:
        raise SystemFailure(f"seccomp: a filter program of {len(program)} bytes is malformed")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // BPF_INSTRUCTION_SIZE, ctypes.addressof(buffer))
    number = resolve_syscall("seccomp")
    result = _libc.syscall(
        ctypes.c_long(number),
        ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(flags),
        ctypes.byref(fprog),
    )
    if result == -1:
        code = ctypes.get_errno()
        raise SystemFailure(f"seccomp_load: {os.strerror(code)}")


class Filter:
    """A libseccomp filter context; `release` (or `with`) frees it, loaded or not."""

    def __init__(self, default_action: int) -> None:
        ctx = _lib.seccomp_init(default_action)
        if not ctx:
            raise SystemFailure(f"seccomp_init: invalid default action {default_action:#x}")
        self._ctx: int | None = ctx

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _handle(self) -> int:
        if self._ctx is None:
            raise SystemFailure("seccomp filter used after release")
        return self._ctx

    def set_attr(self, attr: int, value: int) -> None:
        """Set a filter attribute (e.g. FLTATR_CTL_NNP=0: load without no_new_privs)."""
        _check(_lib.seccomp_attr_set(self._handle(), attr, value), "seccomp_attr_set")

    def add_arch(self, arch: int) -> None:
        """Also filter calls made through `arch`'s ABI (x86 and x32 on x86_64)."""
        result = _lib.seccomp_arch_add(self._handle(), arch)
        if result != -17:  # -EEXIST: the native arch is always present
            _check(result, "seccomp_arch_add")

    def add_rule(self, action: int, syscall: int, args: Sequence[ArgCmp] = ()) -> int:
        """Add a rule; all `args` must match (AND). Returns libseccomp's result (0 or -errno)
        so the caller can decide which refusals to tolerate."""
        array = (_ArgCmp * max(len(args), 1))(
            *(_ArgCmp(a.index, a.op, a.datum_a, a.datum_b) for a in args)
        )
        return int(_lib.seccomp_rule_add_array(self._handle(), action, syscall, len(args), array))

    def export(self) -> bytes:
        """Compile the filter to the classic-BPF program seccomp(2) takes, without loading."""
        fd = os.memfd_create("berth-seccomp", os.MFD_CLOEXEC)
        try:
            _check(_lib.seccomp_export_bpf(self._handle(), fd), "seccomp_export_bpf")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    def load(self) -> None:
        """Compile and install the filter via libseccomp (which sets no_new_privs unless
        FLTATR_CTL_NNP is 0); berth loads exported programs with `load_program` instead."""
        _check(_lib.seccomp_load(self._handle()), "seccomp_load")

    def release(self) -> None:
        """Free the context; the loaded kernel filter is not affected."""
        if self._ctx is not None:
            _lib.seccomp_release(self._ctx)
            self._ctx = None
