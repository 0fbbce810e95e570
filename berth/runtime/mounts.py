"""The container's filesystem view, built by the init before pivot_root: OCI mounts in spec
order, the /dev nodes and links, and the paths masked or made read-only after the pivot.

Every destination is resolved inside the rootfs (`inside`): a symlink in an image can never
send a mount onto the host. Runs in the init, so stdlib, berth.sys and berth.errors only.
"""

from __future__ import annotations

import os
import stat

from berth.errors import InvalidArgument
from berth.sys import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SHARED,
    MS_SLAVE,
    mount,
)
from berth.sys.rootpath import resolve_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MS_UNBINDABLE = 1 << 17
MS_STRICTATIME = 1 << 24
MS_NOATIME = 1 << 10
MS_NODIRATIME = 1 << 11
MS_RELATIME = 1 << 21
MS_SYNCHRONOUS = 1 << 4
MS_DIRSYNC = 1 << 7

# Options that are mount(2) flags (set), their negations (clear), and propagation changes,
# which need a mount call of their own after the mount exists.
FLAGS = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "sync": MS_SYNCHRONOUS,
    "dirsync": MS_DIRSYNC,
    "strictatime": MS_STRICTATIME,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "bind": MS_BIND,
    "rbind": MS_BIND | MS_REC,
}
CLEARS = {
    "rw": MS_RDONLY,
    "suid": MS_NOSUID,
    "dev": MS_NODEV,
    "exec": MS_NOEXEC,
    "async": MS_SYNCHRONOUS,
    "atime": MS_NOATIME,
    "diratime": MS_NODIRATIME,
}
PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}
DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_LINKS = (
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
)


class MountError(InvalidArgument):
    """A spec mount the runtime refuses (unknown option, destination outside the root)."""


def inside(rootfs: str, destination: str) -> str:
    """The host path of `destination` inside `rootfs`: no image can point a mount at the host."""
    try:
        return resolve_in_root(rootfs, destination)
    except InvalidArgument as error:
        raise MountError(f"mount destination {destination}: {error}") from None


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(flags, propagation, data) of an OCI mount's options; the rest is filesystem data."""
    flags, propagation, data = 0, 0, []
    for option in options:
        if option in FLAGS:
            flags |= FLAGS[option]
        elif option in CLEARS:
            flags &= ~CLEARS[option]
        elif option in PROPAGATION:
            propagation |= PROPAGATION[option]
        else:
            data.append(option)
    return flags, propagation, ",".join(data)


def _make_target(path: str, is_file: bool) -> None:
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if is_file:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.mkdir(path, 0o755)


def _bind(source: str, target: str, flags: int) -> None:
    """Bind, then remount for the flags a bind ignores (ro, nosuid, ...)."""
    mount(source, target, None, flags & (MS_BIND | MS_REC))
    remount = flags & ~(MS_BIND | MS_REC)
    if remount:
        mount(None, target, None, MS_BIND | MS_REMOUNT | remount)


def _host_cgroups() -> list[tuple[str, str, str]]:
    """(mount point name, fstype, super options) of each cgroup hierarchy of the host."""
    found = []
    with open("/proc/self/mountinfo") as stream:
        for line in stream:
            if " - cgroup" not in line:  # most of a busy host's lines: containers' mounts
                continue
            fields = line.split()
            tail = fields[fields.index("-") + 1 :]
            if tail[0] in ("cgroup", "cgroup2") and fields[4].startswith("/sys/fs/cgroup"):
                options = [o for o in tail[2].split(",") if o not in ("rw", "ro")]
                found.append((fields[4], tail[0], ",".join(options)))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy, keyed by its controllers as mountinfo shows
    them ("cpu,cpuacct", "name=systemd"; "" for cgroup2)."""
    found = {}
    with open("/proc/self/cgroup") as stream:
        for line in stream:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            found[controllers] = path
    return found


def _cgroups(target: str, flags: int, new_cgroupns: bool) -> None:
    """/sys/fs/cgroup as the container's own: in its cgroup namespace a fresh mount of each
    hierarchy shows the container's cgroup as the root (what runc does for v1 and v2).
    Without one, a fresh mount would show the host's whole tree, so the container's own
    cgroup directories are bound instead (as runc does for --cgroupns=host)."""
    hierarchies = _host_cgroups()
    own = _own_cgroups() if not new_cgroupns else {}
    if any(path == "/sys/fs/cgroup" and kind == "cgroup2" for path, kind, _ in hierarchies):
        _make_target(target, False)
        if new_cgroupns:
            mount("cgroup2", target, "cgroup2", flags)
        else:
            _bind("/sys/fs/cgroup" + own.get("", "/"), target, MS_BIND | flags)
        return
    _make_target(target, False)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    for path, kind, options in hierarchies:
        name = os.path.basename(path)
        if not name or path == "/sys/fs/cgroup":
            continue
        directory = os.path.join(target, name)
        os.mkdir(directory, 0o755)
        if new_cgroupns:
            mount(kind, directory, kind, flags, options or None)
        else:
            key = "" if kind == "cgroup2" else options
            _bind(path + own.get(key, "/"), directory, MS_BIND | flags)
        if "," in name:  # joined controllers (cpu,cpuacct): each name is a link, as on hosts
            for alias in name.split(","):
                if not os.path.lexists(os.path.join(target, alias)):
                    os.symlink(name, os.path.join(target, alias))
    if flags & MS_RDONLY:
        mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def mount_entry(
    rootfs: str, entry: dict[str, Any], new_netns: bool, new_cgroupns: bool, nodev_dev: bool
) -> None:
    """Apply one OCI mount inside `rootfs`; `nodev_dev`: /dev gets nodev (confines_devices)."""
    kind = entry.get("type") or "bind"
    flags, propagation, data = parse_options(list(entry.get("options") or []))
    if nodev_dev and entry.get("destination") == "/dev":
        flags |= MS_NODEV
    target = inside(rootfs, str(entry["destination"]))
    source = str(entry.get("source") or kind)
    if kind == "cgroup":
        _cgroups(target, flags, new_cgroupns)
        return
    if kind == "sysfs" and not new_netns:
        # A fresh sysfs needs a network namespace of its own: share the host's, read-only.
        _make_target(target, False)
        _bind("/sys", target, MS_BIND | MS_REC | MS_RDONLY | (flags & ~MS_BIND))
    elif flags & MS_BIND or kind == "bind":
        try:
            is_dir = os.path.isdir(source)
        except OSError:
            is_dir = False
        if not os.path.exists(source):
            raise MountError(f"bind mount source {source} does not exist")
        _make_target(target, not is_dir)
        _bind(source, target, flags | MS_BIND)
    else:
        _make_target(target, False)
        mount(source, target, kind, flags, data or None)
    if propagation:
        mount(None, target, None, propagation)


def confines_devices(spec: dict[str, Any]) -> bool:
    """Whether the spec's device rules deny by default (Docker's, unless --privileged).

    A container keeps CAP_MKNOD, so it can make a node for any device (`mknod disk b 8 0`
    is the host's disk); Docker stops it from opening one with the devices cgroup, which
    cgroup v2 only offers as a BPF program. berth's runtime does it the same way on v1 and
    v2: /dev is mounted nodev, as are the rootfs (the engine mounts it so) and the spec's
    binds and tmpfs, and each node the container may use is a mount of its own without it.
    """
    rules = ((spec.get("linux") or {}).get("resources") or {}).get("devices") or []
    confined = False
    for rule in rules:
        if rule.get("type", "a") == "a" and "major" not in rule and "minor" not in rule:
            confined = not rule.get("allow")
    return confined


def _node(path: str, kind: int, major: int, minor: int, mode: int, host: str) -> None:
    """mknod (or, where that is refused, as in a user namespace, the host's node bound onto
    an empty file); on a nodev /dev the node then becomes a mount of its own, without nodev,
    so it alone can be opened."""
    try:
        os.mknod(path, kind | mode, os.makedev(major, minor))
        os.chmod(path, mode)  # the umask trimmed the mode mknod got
    except PermissionError:
        _make_target(path, True)
        mount(host, path, None, MS_BIND)
        return
    if os.statvfs(path).f_flag & os.ST_NODEV:
        mount(path, path, None, MS_BIND)
        mount(None, path, None, MS_BIND | MS_REMOUNT)


def make_devices(rootfs: str, devices: list[dict[str, Any]]) -> None:
    """The spec's linux.devices (`--device`, a privileged container's host devices), the
    nodes Docker gives every container unless the spec made them already, and the usual
    links."""
    dev = inside(rootfs, "/dev")
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for device in devices:
        kind = kinds.get(str(device.get("type")))
        if kind is None:
            raise MountError(f"device {device.get('path')}: unknown type {device.get('type')}")
        path = inside(rootfs, str(device["path"]))
        if os.path.lexists(path):
            os.unlink(path)  # the spec's node wins over one the image shipped
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = int(device.get("fileMode", 0o666)) & 0o7777
        major, minor = int(device.get("major", 0)), int(device.get("minor", 0))
        _node(path, kind, major, minor, mode, str(device["path"]))
        os.chown(path, int(device.get("uid", 0)), int(device.get("gid", 0)))
    for name, major, minor in DEVICES:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            _node(path, stat.S_IFCHR, major, minor, 0o666, f"/dev/{name}")
    for name, target in DEV_LINKS:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            os.symlink(target, path)


def mask(paths: list[str]) -> None:
    """Hide `paths` (after the pivot): /dev/null over a file, an empty read-only tmpfs over a
    directory. A path the kernel doesn't have needs no mask."""
    for path in paths:
        try:
            is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            continue
        if is_dir:
            mount("tmpfs", path, "tmpfs", MS_RDONLY, None)
        else:
            mount("/dev/null", path, None, MS_BIND)


def make_readonly(paths: list[str]) -> None:
    """Bind each path onto itself and remount it read-only (after the pivot)."""
    for path in paths:
        if os.path.lexists(path):
            _bind(path, path, MS_BIND | MS_REC | MS_RDONLY)
