"""Start, drive and stop the tools a pull is measured with: berth, docker, podman, skopeo.

Every tool gets its own store under one benchmark directory, so all stores sit on the same
filesystem (DESIGN §7b: the root filesystem creates files ~50x slower than tmpfs, so a store
on a different filesystem would decide the race). `bench_root("tmpfs")` mounts a private
tmpfs for the run; `bench_root("rootfs")` uses a directory on / (ext4 here). Everything a
helper starts is stopped, and everything mounted is unmounted, in `finally` blocks.

The peers are configured not to touch the host: dockerd runs with its own data-root,
exec-root, pidfile and socket, and without iptables or a bridge (we only pull); podman and
skopeo read config files written here instead of /etc/containers. The networking benchmark
(bench/network.py) is the exception: it gives dockerd a bridge and iptables (`network=`) and
podman a CNI network of its own (`network_conf=`), and undoes their iptables rules itself.
Must not import `berth`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from bench.proc import remove_tree, run, stop_process, unmount_all

log = logging.getLogger("bench.peers")

REPO_ROOT = Path(__file__).resolve().parent.parent
BERTH = REPO_ROOT / ".venv" / "bin" / "berth"
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client; a 28.x client may come first on PATH
PODMAN = "/usr/bin/podman"
SKOPEO = "/usr/bin/skopeo"
FILESYSTEMS = ("tmpfs", "rootfs")
TOOLS = ("berth", "docker", "podman", "skopeo")
# dockerd's networking flags when it only pulls or runs `--network none` containers.
DOCKER_NO_NETWORK = ("--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none")


@contextlib.contextmanager
def bench_root(fs: str, size: str = "20g") -> Iterator[Path]:
    """A fresh directory for one benchmark run on the named filesystem; removed afterwards.

    tmpfs: a private mount (not /dev/shm) so the run's usage is its own and the unmount at
    the end proves nothing was left behind. rootfs: a directory in /var/tmp (ext4 on /).
    """
    if fs not in FILESYSTEMS:
        raise ValueError(f"filesystem must be one of {FILESYSTEMS}, not {fs!r}")
    parent = "/tmp" if fs == "tmpfs" else "/var/tmp"
    base = Path(tempfile.mkdtemp(prefix="berth-bench-", dir=parent))
    try:
        if fs == "tmpfs":
            run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", base])
        yield base
    finally:
        for child in list(base.iterdir()) if base.exists() else []:
            remove_tree(child)
        unmount_all(base)
        shutil.rmtree(base, ignore_errors=True)


def filesystem_of(path: Path) -> str:
    """The filesystem type and source of the mount holding path (for the report)."""
    best, kind = "", "?"
    real = str(path.resolve())
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            source, target, fstype = line.split()[:3]
            if (real == target or real.startswith(target.rstrip("/") + "/")) and len(target) >= len(
                best
            ):
                best, kind = target, f"{fstype} ({source} on {target})"
    return kind


class Tool(Protocol):
    """One pulling tool bound to one fresh store."""

    name: str

    def start(self) -> None:
        """Make the tool ready to pull (start a daemon); not part of the timing."""

    def pull_argv(self, reference: str) -> list[str]:
        """The command whose wall-clock time is the pull."""

    @property
    def env(self) -> Mapping[str, str]: ...

    def stop(self) -> None:
        """Stop what start() started; safe to call twice and after a failed start()."""


def _base_env(store: Path) -> dict[str, str]:
    """PATH and a TMPDIR in the store: staging files must land on the measured filesystem."""
    tmp = store / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(store),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
    }


class Berth:
    """berth itself: daemonless, so start() and stop() have nothing to do."""

    name = "berth"
    executable = BERTH

    def __init__(self, store: Path) -> None:
        self.store = store
        self._env = _base_env(store)

    @classmethod
    def available(cls) -> bool:
        return cls.executable.exists()

    def start(self) -> None:
        pass

    def argv(self, *args: str) -> list[str]:
        return [
            str(self.executable),
            "--root",
            str(self.store / "root"),
            "--runroot",
            str(self.store / "run"),
            *args,
        ]

    def pull_argv(self, reference: str) -> list[str]:
        return self.argv("pull", reference)

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    def stop(self) -> None:
        pass


class BerthBaseline(Berth):
    """Another build of berth (`$BERTH_BASELINE`: the `berth` of another checkout's venv), to
    measure a change before and after in one run, taking turns with the current one."""

    name = "berth-base"
    executable = Path(os.environ.get("BERTH_BASELINE", "/nonexistent/berth"))


class BerthOwnMonitor(Berth):
    """berth with `BERTH_MONITOR=berth`: every container held by berth's own monitor (a fork
    of the store's zygote), not by conmon (the default where conmon is installed)."""

    name = "berth-monitor"

    @property
    def env(self) -> Mapping[str, str]:
        return {**super().env, "BERTH_MONITOR": "berth"}


class Docker:
    """A private dockerd (and the containerd it manages), started per store."""

    name = "docker"
    START_TIMEOUT = 60.0

    def __init__(self, store: Path, network: Sequence[str] = DOCKER_NO_NETWORK) -> None:
        self.store = store
        self.network = tuple(network)
        self.socket = store / "docker.sock"
        self._env = {**_base_env(store), "DOCKER_CONFIG": str(store / "client")}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.store / "client").mkdir(parents=True, exist_ok=True)
        config = self.store / "daemon.json"
        config.write_text("{}")  # never read /etc/docker/daemon.json
        log_file = (self.store / "dockerd.log").open("ab")
        argv = [
            DOCKERD,
            "--config-file",
            str(config),
            "--data-root",
            str(self.store / "data"),
            "--exec-root",
            str(self.store / "exec"),
            "--pidfile",
            str(self.store / "docker.pid"),
            "-H",
            f"unix://{self.socket}",
            "--storage-driver",
            "overlay2",
            *self.network,
            "--log-level=warn",
        ]
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )
        finally:
            log_file.close()
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.05)
        tail = (self.store / "dockerd.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"dockerd did not start:\n{tail}")

    def _ping(self) -> bool:
        """GET /_ping on the socket: ready means the API answers, not just that it exists."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(str(self.socket))
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return b" 200 " in s.recv(1024)
        except OSError:
            return False

    def argv(self, *args: str) -> list[str]:
        return [DOCKER, "-H", f"unix://{self.socket}", *args]

    def pull_argv(self, reference: str) -> list[str]:
        return self.argv("pull", "--quiet", reference)

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=60)  # dockerd stops its containerd first
            self._process = None
        unmount_all(self.store)


class Podman:
    """podman with its own root, runroot and config files (none read from /etc)."""

    name = "podman"

    def __init__(self, store: Path, network_conf: str = "") -> None:
        self.store = store
        self.network_conf = network_conf  # a [network] section for containers.conf
        self._env = _base_env(store)

    def start(self) -> None:
        conf = self.store / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        tmp = self.store / "tmp"
        # Root lacks CAP_SYS_RESOURCE here: asking for more than the inherited hard limit
        # fails with EPERM (DESIGN §7b), so the defaults never exceed it.
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        nofile = hard if hard != resource.RLIM_INFINITY else 1048576
        _nproc_soft, nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)
        nproc = nproc_hard if nproc_hard != resource.RLIM_INFINITY else 4194304
        (conf / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.store}/events.log"\n'
            f'image_copy_tmp_dir = "{tmp}"\n'  # default /var/tmp would be on another fs
            f'tmp_dir = "{self.store}/run/libpod"\n'
            f'static_dir = "{self.store}/root/libpod"\n'
            f'volume_path = "{self.store}/root/volumes"\n' + self.network_conf
        )
        (conf / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.store}/root"\n'
            f'runroot = "{self.store}/run"\n'
        )
        (conf / "registries.conf").write_text("unqualified-search-registries = []\n")
        self._env = {
            **self._env,
            "CONTAINERS_CONF": str(conf / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(conf / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(conf / "registries.conf"),
            "XDG_RUNTIME_DIR": str(self.store / "run" / "xdg"),
        }
        (self.store / "run" / "xdg").mkdir(parents=True, exist_ok=True)

    def argv(self, *args: str) -> list[str]:
        return [
            PODMAN,
            "--root",
            str(self.store / "root"),
            "--runroot",
            str(self.store / "run"),
            "--storage-driver",
            "overlay",
            *args,
        ]

    def pull_argv(self, reference: str) -> list[str]:
        return self.argv("pull", "--quiet", "--tls-verify=false", reference)

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    def stop(self) -> None:
        # c/storage leaves a private bind mount of its overlay dir (and any layer mounts).
        unmount_all(self.store)


class Skopeo:
    """skopeo copy into an OCI layout: download and verify only, nothing unpacked.

    An `oci:` layout rather than `dir:` so the warm pull can reuse the base blob (a `dir:`
    destination holds one image and would fetch everything again); both only write blobs.
    """

    name = "skopeo"

    def __init__(self, store: Path) -> None:
        self.store = store
        self._env = _base_env(store)

    def start(self) -> None:
        pass

    def pull_argv(self, reference: str) -> list[str]:
        tag = reference.rsplit(":", 1)[1]
        repository = reference.rsplit(":", 1)[0].rsplit("/", 1)[1]
        return [
            SKOPEO,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            f"docker://{reference}",
            f"oci:{self.store / 'layout'}:{repository}-{tag}",
        ]

    @property
    def env(self) -> Mapping[str, str]:
        return self._env

    def stop(self) -> None:
        pass


def make_tool(name: str, store: Path) -> Tool:
    """A tool bound to a new, empty store directory."""
    store.mkdir(parents=True, exist_ok=True)
    tools: dict[str, type[Berth | Docker | Podman | Skopeo]] = {
        "berth": Berth,
        "berth-base": BerthBaseline,
        "docker": Docker,
        "podman": Podman,
        "skopeo": Skopeo,
    }
    return tools[name](store)


def versions() -> dict[str, str]:
    """Each tool's version line, for the report."""
    out: dict[str, str] = {}
    for name, argv in {
        "berth": [str(BERTH), "--version"],
        "berth-base": [str(BerthBaseline.executable), "--version"],
        "dockerd": [DOCKERD, "--version"],
        "podman": [PODMAN, "--version"],
        "skopeo": [SKOPEO, "--version"],
    }.items():
        try:
            proc = run(argv, check=False, timeout=30)
            out[name] = (proc.stdout or proc.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            out[name] = "unavailable"
    return out


def cleanup_store(store: Path) -> None:
    """Delete a store (its mounts first); rounds must not see each other's data."""
    remove_tree(store)
    os.sync()


def start_logging_and_choose(tools: str, verbose: bool) -> list[str]:
    """A benchmark's common start: logging on, and the tools it was asked for (berth left out,
    with a warning, when the venv has no berth)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    chosen = [t for t in tools.split(",") if t]
    if "berth" in chosen and not Berth.available():
        log.warning("berth is not installed (.venv/bin/berth): measuring the peers only")
        chosen.remove("berth")
    if "berth-base" in chosen and not BerthBaseline.available():
        log.warning("no baseline berth at $BERTH_BASELINE: leaving it out")
        chosen.remove("berth-base")
    return chosen
