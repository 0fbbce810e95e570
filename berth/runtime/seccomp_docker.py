"""Docker's default seccomp profile, as data in Docker's own file format (moby's
profiles/seccomp/default.json), before its conditions are resolved.

Containers must see the same syscall surface under berth as under Docker, so the default
profile behaves like moby's: an allowlist whose default answer is EPERM; calls that need a
capability (mount needs CAP_SYS_ADMIN, ptrace CAP_SYS_PTRACE, ...) are allowed only when the
container holds that capability; clone may not create namespaces without CAP_SYS_ADMIN; clone3,
whose flags live in memory a filter can't read, answers ENOSYS so libc falls back to clone;
socket refuses AF_ALG and AF_VSOCK; personality accepts only the values programs really use.
The calls are grouped by what they do; `seccomp_default` resolves the conditions (rules with
`includes`/`excludes` on capabilities, arches and kernel versions) for one container.

Data only: must not import berth.sys (libseccomp is loaded only by `berth.runtime.seccomp`, in
the container init).
"""

from __future__ import annotations

import errno
from typing import Any

# Calls every container may make, by what they do. Names a host doesn't know (32-bit variants
# on 64-bit hosts, calls newer than its libseccomp) are skipped when the filter is built.
_ALWAYS: dict[str, str] = {
    "files and directories": """
        access chdir chmod chown chown32 creat faccessat faccessat2 fchdir fchmod fchmodat
        fchmodat2 fchown fchown32 fchownat getcwd getdents getdents64 lchown lchown32 link
        linkat mkdir mkdirat mknod mknodat open openat openat2 readlink readlinkat rename
        renameat renameat2 rmdir stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat
        statx statfs statfs64 fstatfs fstatfs64 symlink symlinkat truncate truncate64
        ftruncate ftruncate64 umask unlink unlinkat utime utimensat utimensat_time64 utimes
        futimesat name_to_handle_at statmount listmount
    """,
    "extended attributes": """
        fgetxattr flistxattr fremovexattr fsetxattr getxattr getxattrat lgetxattr listxattr
        listxattrat llistxattr lremovexattr lsetxattr removexattr removexattrat setxattr
        setxattrat
    """,
    "reading and writing descriptors": """
        close close_range copy_file_range dup dup2 dup3 fadvise64 fadvise64_64 fallocate fcntl
        fcntl64 fdatasync flock fsync ioctl _llseek lseek pread64 preadv preadv2 pwrite64
        pwritev pwritev2 read readahead readv write writev sendfile sendfile64 splice tee
        vmsplice sync sync_file_range syncfs pipe pipe2 cachestat
    """,
    "waiting for events": """
        io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
        epoll_wait_old eventfd eventfd2 poll ppoll ppoll_time64 select _newselect pselect6
        pselect6_time64 inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
        fanotify_mark signalfd signalfd4 timerfd_create timerfd_gettime timerfd_gettime64
        timerfd_settime timerfd_settime64
    """,
    "memory": """
        brk madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mlock mlock2
        mlockall mmap mmap2 mprotect mremap mseal msync munlock munlockall munmap pkey_alloc
        pkey_free pkey_mprotect remap_file_pages
    """,
    "processes and threads (clone itself is below)": """
        capget capset execve execveat exit exit_group fork vfork wait4 waitid waitpid getpid
        getppid gettid getpgid getpgrp getsid setpgid setsid kill tgkill tkill pidfd_open
        pidfd_send_signal process_mrelease prctl seccomp rseq set_tid_address set_robust_list
        get_robust_list restart_syscall getrlimit setrlimit ugetrlimit prlimit64 getrusage
        getpriority setpriority ioprio_get ioprio_set get_thread_area set_thread_area
        landlock_add_rule landlock_create_ruleset landlock_restrict_self uretprobe riscv_hwprobe
    """,
    "scheduling": """
        sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
        sched_get_priority_min sched_getscheduler sched_rr_get_interval
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
        sched_setscheduler sched_yield getcpu
    """,
    "credentials": """
        getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getresgid
        getresgid32 getresuid getresuid32 getuid getuid32 setfsgid setfsgid32 setfsuid
        setfsuid32 setgid setgid32 setgroups setgroups32 setregid setregid32 setresgid
        setresgid32 setresuid setresuid32 setreuid setreuid32 setuid setuid32
    """,
    "signals": """
        alarm pause rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
        rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack
        sigprocmask sigreturn
    """,
    "clocks and timers (setting the clock needs CAP_SYS_TIME)": """
        adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
        clock_gettime64 clock_nanosleep clock_nanosleep_time64 nanosleep getitimer setitimer
        gettimeofday time times timer_create timer_delete timer_getoverrun timer_gettime
        timer_gettime64 timer_settime timer_settime64
    """,
    "futexes": "futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake",
    "sockets (socket itself is below)": """
        accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom
        recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown
        socketcall socketpair
    """,
    "System V IPC and POSIX message queues (the container has its own IPC namespace)": """
        ipc msgctl msgget msgrcv msgsnd semctl semget semop semtimedop semtimedop_time64 shmat
        shmctl shmdt shmget mq_getsetattr mq_notify mq_open mq_timedreceive
        mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
    """,
    "system information": "getrandom sysinfo uname",
}

# Calls a capability unlocks: the kernel checks the capability too, the filter only keeps
# the attack surface closed to containers that could never pass that check.
_BY_CAPABILITY: dict[str, str] = {
    "CAP_SYS_ADMIN": """
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount
        open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
        umount umount2 unshare
    """,
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}

# Arch-specific calls, keyed by Docker arch names.
_BY_ARCH: list[tuple[tuple[str, ...], str]] = [
    (("ppc64le",), "sync_file_range2 swapcontext"),
    (("arm", "arm64"), "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint"),
    (("arm", "arm64"), "cacheflush set_tls"),
    (("amd64", "x32"), "arch_prctl"),
    (("amd64", "x32", "x86"), "modify_ldt"),
    (("s390", "s390x"), "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    (("riscv64",), "riscv_flush_icache"),
]

_CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x02000000  # CLONE_NEWCGROUP
)
_AF_VSOCK = 40
_AF_ALG = 38
# personality(2) values programs use: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
# and 0xffffffff, which only queries the current persona.
_PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)


def _rule(names: str, **extra: Any) -> dict[str, Any]:
    return {"names": names.split(), "action": "SCMP_ACT_ALLOW", **extra}


def _arg(index: int, value: int, op: str, value_two: int = 0) -> dict[str, Any]:
    arg = {"index": index, "value": value, "op": op}
    if op == "SCMP_CMP_MASKED_EQ":
        arg["valueTwo"] = value_two
    return arg


def docker_default() -> dict[str, Any]:
    """The default profile in Docker's file format, before conditions are resolved."""
    syscalls: list[dict[str, Any]] = [_rule(names) for names in _ALWAYS.values()]
    # Reading another process's memory was a way around seccomp before kernel 4.8.
    syscalls.append(
        _rule("process_vm_readv process_vm_writev ptrace", includes={"minKernel": "4.8"})
    )
    # socket for every family but AF_ALG (kernel crypto) and AF_VSOCK (host<->VM sockets).
    syscalls.append(_rule("socket", args=[_arg(0, _AF_ALG, "SCMP_CMP_LT")]))
    syscalls.append(_rule("socket", args=[_arg(0, _AF_ALG + 1, "SCMP_CMP_EQ")]))
    syscalls.append(_rule("socket", args=[_arg(0, _AF_VSOCK, "SCMP_CMP_GT")]))
    for persona in _PERSONALITIES:
        syscalls.append(_rule("personality", args=[_arg(0, persona, "SCMP_CMP_EQ")]))
    for arches, names in _BY_ARCH:
        syscalls.append(_rule(names, includes={"arches": list(arches)}))
    for cap, names in _BY_CAPABILITY.items():
        syscalls.append(_rule(names, includes={"caps": [cap]}))
    # Without CAP_SYS_ADMIN, clone may make threads and processes but no namespaces.
    # s390 passes the flags as the second argument.
    no_namespaces = "SCMP_CMP_MASKED_EQ"
    syscalls.append(
        _rule(
            "clone",
            args=[_arg(0, _CLONE_NAMESPACE_FLAGS, no_namespaces, 0)],
            excludes={"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
        )
    )
    syscalls.append(
        _rule(
            "clone",
            args=[_arg(1, _CLONE_NAMESPACE_FLAGS, no_namespaces, 0)],
            includes={"arches": ["s390", "s390x"]},
            excludes={"caps": ["CAP_SYS_ADMIN"]},
        )
    )
    # clone3's flags are behind a pointer the filter can't inspect: ENOSYS, not EPERM, so
    # glibc and musl fall back to clone, where the rule above applies.
    syscalls.append(
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.ENOSYS,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        }
    )
    arch_map = [
        {
            "architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        },
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
        {"architecture": "SCMP_ARCH_PPC64LE", "subArchitectures": []},
        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []},
        {"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": []},
    ]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "archMap": arch_map,
        "syscalls": syscalls,
    }
