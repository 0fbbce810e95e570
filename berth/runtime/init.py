"""`python -m berth.runtime.init BUNDLE SYNC_FD START_FD CGROUPS [SECCOMP_CACHE] [CONSOLE_FD]
[detached]`: the init, a fresh process (DESIGN §1: never a fork of the multi-threaded engine).
A caller that is still single-threaded (a monitor starting its container) forks it instead of
starting a new interpreter: `main(argv)` in the child (see spawn.spawn_init).

1. join the cgroups, unshare the namespaces, fork pid 1 (CLONE_NEWPID applies to children);
   the intermediate reports pid 1's host pid and exits;
2. pid 1 mounts the rootfs and the spec's mounts, pivots into it, masks paths, sets the
   hostname, rlimits, user and capabilities (bounding set dropped while CAP_SETPCAP is held,
   KEEPCAPS across setuid, then no_new_privs, then capset), applies seccomp;
3. reports ready, waits for `start`, resolves the command in the container's PATH and execs.
   The sync pipe is close-on-exec: EOF tells the runtime the exec succeeded. `detached` (the
   runtime's command line, whose `create` exits before `start`): the cwd and the command are
   checked before ready, as runc does, since no one reads the sync pipe after `start`.
Messages are JSON lines on the sync pipe (sync.py). Imports stay minimal: this runs per
container. Everything is imported before pivot_root: afterwards the host's Python library is
gone, and hardening.seal_imports makes sure nothing from the container's files is imported.
The steps live in mounts.py (filesystem view), credentials.py (user, capabilities, rlimits)
and command.py (PATH lookup with Docker's 126/127); this module orders them.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import struct
import sys
import termios
from pathlib import Path
from typing import Any, NoReturn

from berth.errors import BerthError
from berth.runtime import mounts, seccomp  # loads libseccomp: must happen before pivot_root
from berth.runtime.command import exec_command, find_command
from berth.runtime.credentials import lock_down, set_rlimits
from berth.runtime.hardening import seal_imports, undumpable
from berth.runtime.sync import InitError, send
from berth.sys import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
    link,
    mount,
    setns,
    umount,
    unshare,
)
from berth.sys import process as proc

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "network": CLONE_NEWNET,
    "pid": CLONE_NEWPID,
    "cgroup": CLONE_NEWCGROUP,
}
TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def _pivot(rootfs: str) -> None:
    """pivot_root(".", "."): the old root ends up stacked under the new one and is detached
    at once, so no directory is needed for it (runc's trick). Needs / private, done first."""
    os.chdir(rootfs)
    proc.pivot_root(".", ".")
    umount(".", MNT_DETACH)
    os.chdir("/")


def console_channel(console_fd: int) -> Any:
    """The console socket as a socket object. The socket module (~2.5 ms of imports) is
    loaded only for a terminal, and here, before pivot_root seals the imports."""
    import socket

    return socket.socket(fileno=console_fd)


def make_console(channel: Any, uid: int, gid: int, size: dict[str, int] | None = None) -> None:
    """Make a pty in the container's own devpts, send its master to the monitor over the
    console socket (SCM_RIGHTS), and make the slave the process's stdio: a pty from the
    host's devpts would not exist inside the container (`tty` would say "not a tty").
    `size` (OCI consoleSize) is set before the process runs: it may ask at once (stty)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    os.fchown(slave, uid, gid)
    with channel:  # SCM_RIGHTS (1) at SOL_SOCKET (1): the master fd travels to the monitor
        channel.sendmsg([b"pty"], [(1, 1, struct.pack("i", master))])
    os.close(master)
    if size:
        winsize = struct.pack("HHHH", size["height"], size["width"], 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, winsize)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def take_terminal() -> None:
    """Make the pty on stdin the controlling terminal of a new session: Ctrl-C reaches the
    process."""
    os.setsid()
    fcntl.ioctl(0, TIOCSCTTY, 0)


class CgroupJoin:
    """Pid 1 joins its cgroups while it already builds its mounts.

    The first write to a cgroup.procs after a quiet spell waits for an RCU grace period (the
    kernel's cgroup_threadgroup_rwsem; see berth.cgroups.warmth). So the init forks pid 1
    first and writes pid 1's pid itself, while pid 1 mounts; pid 1 waits for that only before
    what depends on its cgroup: the cgroup namespace (unshared then, so its root is the
    container's cgroup) and the cgroup mounts. On cgroup v2 pid 1 is born in its cgroup
    (`_fork_pid1`) and `place` has nothing to write.
    """

    def __init__(self, cgroupns: bool) -> None:
        self.cgroupns = cgroupns
        self._read, self._write = os.pipe2(os.O_CLOEXEC)
        self._done = False

    def place(self, child: int, cgroup_procs: list[str], sync_fd: int) -> NoReturn:
        """The parent's side: put pid 1 in its cgroups, tell the runtime and pid 1, exit."""
        os.close(self._read)
        # First, so the runtime can kill and reap pid 1 if this gets stuck or fails; pid 1
        # sends nothing before it hears "joined".
        send(sync_fd, {"pid": child})
        try:
            for path in cgroup_procs:
                Path(path).write_text(str(child))
        except OSError as error:
            os.kill(child, signal.SIGKILL)  # it would read end-of-file and exit anyway
            send(sync_fd, {"error": f"joining the container's cgroup: {error}"})
            os._exit(1)
        os.write(self._write, b"j")
        os._exit(0)

    def opened_as_child(self) -> None:
        os.close(self._write)

    def wait(self) -> None:
        """Pid 1's side, once: until it is in its cgroups; then its cgroup namespace."""
        if self._done:
            return
        if not os.read(self._read, 1):
            os._exit(1)  # the parent failed and reported why
        os.close(self._read)
        self._done = True
        if self.cgroupns:
            unshare(CLONE_NEWCGROUP)


def _fork_pid1(cgroup_procs: list[str]) -> tuple[int, list[str]]:
    """Pid 1 (its pid; 0 in the child) and the cgroup.procs files it must still be written
    to. A container with one cgroup2 directory (cgroup v2) has pid 1 born in it (clone3's
    CLONE_INTO_CGROUP: nothing to join); v1's directories, one per hierarchy, or a kernel
    without clone3 fork it where the init is, for `CgroupJoin.place` to move.

    Only ENOSYS falls back to fork: a clone that failed after the kernel gave out the new
    pid namespace's pid 1 leaves that namespace unable to have any process."""
    if len(cgroup_procs) == 1:
        directory = os.path.dirname(cgroup_procs[0])
        if os.path.exists(os.path.join(directory, "cgroup.controllers")):  # cgroup2's only
            fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
            try:
                return proc.fork_into_cgroup(fd), []
            except OSError as error:
                if error.errno != errno.ENOSYS:
                    raise
            finally:
                os.close(fd)
    return os.fork(), cgroup_procs


def _container(
    spec: dict[str, Any],
    bundle: Path,
    sync_fd: int,
    start_fd: int,
    new_netns: bool,
    seccomp_cache: Path | None,
    console_fd: int | None,
    joined: CgroupJoin,
    detached: bool = False,
) -> None:
    """Pid 1: build the container's world, then exec its process."""
    process = spec["process"]
    linux = spec.get("linux") or {}
    # Compile the filter while the host (libseccomp, the cache) is still visible.
    program = seccomp.prepare(linux["seccomp"], seccomp_cache) if linux.get("seccomp") else None
    root = spec.get("root") or {}
    rootfs = str((bundle / root.get("path", "rootfs")).resolve())
    # As runc: the host's tree becomes a slave copy (host mounts still reach `rslave` volumes,
    # nothing flows back), unless the spec asks otherwise. pivot_root refuses a shared root,
    # so a shared propagation is applied only after the pivot.
    propagation = mounts.PROPAGATION.get(str(linux.get("rootfsPropagation") or "rslave"))
    if propagation is None:
        raise InitError(f"unknown rootfsPropagation {linux.get('rootfsPropagation')}")
    shared = propagation & MS_SHARED
    mount(None, "/", None, (MS_REC | MS_SLAVE) if shared else propagation)
    mount(rootfs, rootfs, None, MS_BIND | MS_REC)
    new_cgroupns = any(
        n.get("type") == "cgroup" and not n.get("path") for n in linux.get("namespaces") or []
    )
    confined = mounts.confines_devices(spec)
    for entry in spec.get("mounts") or []:
        if entry.get("type") == "cgroup":
            joined.wait()  # what a cgroup mount shows depends on the cgroup we are in
        mounts.mount_entry(rootfs, entry, new_netns, new_cgroupns, confined)
    joined.wait()
    mounts.make_devices(rootfs, list(linux.get("devices") or []))
    cwd = str(process.get("cwd") or "/")
    try:
        os.makedirs(mounts.inside(rootfs, cwd), exist_ok=True)
    except OSError as error:  # e.g. -w names a file: Docker's runc says the same
        raise InitError(f"mkdir {cwd}: {(error.strerror or 'failed').lower()}", 126) from None
    channel = console_channel(console_fd) if console_fd is not None else None
    _pivot(rootfs)
    seal_imports()
    if shared:
        mount(None, "/", None, propagation)
    if channel is not None:
        user = process.get("user") or {}
        make_console(channel, int(user.get("uid", 0)), int(user.get("gid", 0)))
    if spec.get("hostname"):
        proc.sethostname(str(spec["hostname"]))
    if spec.get("domainname"):  # OCI 1.1; the uts namespace holds it too
        Path("/proc/sys/kernel/domainname").write_text(str(spec["domainname"]))
    if new_netns:
        link.set_up("lo")
    # Sysctls before readonlyPaths: those make /proc/sys read-only.
    for key, value in (linux.get("sysctl") or {}).items():
        path = Path("/proc/sys", key.replace(".", "/"))
        try:
            path.write_text(str(value))
        except OSError as error:  # runc's words: a name the kernel lacks, a value it refuses
            verb = "open" if isinstance(error, FileNotFoundError) else "write"
            raise InitError(f"{verb} {path}: {(error.strerror or 'failed').lower()}") from None
    mounts.mask(list(linux.get("maskedPaths") or []))
    mounts.make_readonly(list(linux.get("readonlyPaths") or []))
    if root.get("readonly"):
        mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
    if "oomScoreAdj" in process:
        Path("/proc/self/oom_score_adj").write_text(str(int(process["oomScoreAdj"])))
    warnings = set_rlimits(list(process.get("rlimits") or []))
    # runc's default: the init may have inherited any umask from its caller.
    os.umask(int((process.get("user") or {}).get("umask", 0o022)))
    args = list(process["args"])
    env = list(process.get("env") or [])
    lock_down(process, program)
    executable = _enter(cwd, args, env) if detached else ""
    send(sync_fd, {"ready": True, "warnings": warnings})
    if not os.read(start_fd, 1):
        os._exit(0)  # the runtime went away before starting us
    os.close(start_fd)
    executable = executable or _enter(cwd, args, env)
    if process.get("terminal"):
        take_terminal()
    exec_command(executable, args, env)


def _enter(cwd: str, args: list[str], env: list[str]) -> str:
    """chdir to the process's cwd and find its command: the last checks before the exec."""
    try:
        os.chdir(cwd)
    except OSError as error:
        raise InitError(
            f'chdir to cwd ("{cwd}") set in config.json failed: {error.strerror}', 126
        ) from None
    return find_command(args, env)


def _report(sync_fd: int, error: BaseException) -> None:
    """Tell the runtime why the init failed; once a detached runtime has gone (an exec
    failure after `start`), the container's stderr is the only reader left."""
    status = getattr(error, "exit_status", 125)
    try:
        send(sync_fd, {"error": str(error), "exit_status": status})
    except OSError:
        os.write(2, f"{error}\n".encode())


def main(argv: list[str] | None = None) -> None:
    """The init's work, from its command line (or `argv`, when the runtime forked it)."""
    args = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    bundle = Path(args[1])
    sync_fd, start_fd = int(args[2]), int(args[3])
    cgroup_procs = json.loads(args[4])
    seccomp_cache = Path(args[5]) if len(args) > 5 and args[5] else None
    console_fd = int(args[6]) if len(args) > 6 and args[6] else None
    detached = len(args) > 7 and args[7] == "detached"
    if console_fd is not None:
        os.set_inheritable(console_fd, False)
    os.set_inheritable(sync_fd, False)
    undumpable()
    os.set_inheritable(start_fd, False)
    try:
        spec = json.loads((bundle / "config.json").read_text())
        flags = 0
        host_netns = os.stat("/proc/self/ns/net").st_ino
        for namespace in (spec.get("linux") or {}).get("namespaces") or []:
            kind = namespace["type"]
            if kind not in NAMESPACE_FLAGS:
                raise InitError(f"unsupported namespace {kind}")
            if namespace.get("path"):
                fd = os.open(namespace["path"], os.O_RDONLY | os.O_CLOEXEC)
                setns(fd, NAMESPACE_FLAGS[kind])
                os.close(fd)
            else:
                flags |= NAMESPACE_FLAGS[kind]
        unshare(flags & ~CLONE_NEWCGROUP)  # that one once pid 1 is in its cgroup
        # A namespace of its own, new or joined by path, gets a fresh sysfs showing its devices.
        new_netns = os.stat("/proc/self/ns/net").st_ino != host_netns
    except (BerthError, InitError, OSError, ValueError) as error:
        send(sync_fd, {"error": str(error), "exit_status": getattr(error, "exit_status", 125)})
        os._exit(1)
    joined = CgroupJoin(bool(flags & CLONE_NEWCGROUP))
    try:
        child, to_join = _fork_pid1(cgroup_procs)
    except OSError as error:
        send(sync_fd, {"error": f"creating the container's pid 1 in its cgroup: {error}"})
        os._exit(1)
    if child:
        joined.place(child, to_join, sync_fd)  # exits
    joined.opened_as_child()
    try:
        _container(
            spec, bundle, sync_fd, start_fd, new_netns, seccomp_cache, console_fd, joined, detached
        )
    except Exception as error:  # the top of pid 1: report, never leave the runtime guessing
        _report(sync_fd, error)
        os._exit(getattr(error, "exit_status", 125))


if __name__ == "__main__":
    main()
